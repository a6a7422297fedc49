#!/usr/bin/env python3
"""Static check of deploy/ (CI runs it from `make test`; no Docker engine or cluster needed).

    python3 deploy/check.py [--medbus .build/debug/medbus]

What it checks, and fails on:
  files        every YAML and JSON file under deploy/ parses
  generated    generate.py's outputs are up to date (asyncapi.yaml, deploy/adapters, ConfigMaps,
               Grafana dashboard)
  topics       topics.yaml / site-topics.yaml follow TopicsFile's rules and our durability policy
  asyncapi     asyncapi.yaml is a valid AsyncAPI 3.0 document (asyncapi3 models), every $ref
               resolves, every referenced JSON Schema is a valid schema (jsonschema check_schema),
               every schema in Mappings/schemas/ is used, the envelope headers are the code's
  coverage     every topic of the project (topics files, topic literals in Sources/, mapping
               targets, adapter and destination manifests) matches a channel
  compose      `docker compose config -q` where the client has compose, else the Compose
               Specification (compose-spec package); services, volumes, mounts
  kubernetes   every manifest against the Kubernetes API schemas (kubernetes-validate, strict),
               kustomization resources, references between objects (ConfigMap keys, Secrets,
               ports, selectors)
  commands     every medbus command line (compose, Kubernetes, systemd) uses commands and flags
               that `medbus <command> --help` lists, and paths that exist in the image or mounts
  grafana      every metric and label in the dashboard is in deploy/metrics.txt
Prints one line per problem and ends with "N passed, M failed" over the sections.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import warnings
from functools import lru_cache
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
sys.path.insert(0, str(DEPLOY))
import generate  # noqa: E402  (same folder)

problems: dict[str, list[str]] = {}
section = "files"


def fail(message: str) -> None:
    problems.setdefault(section, []).append(message)


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# --------------------------------------------------------------------------------------- files

def check_files() -> None:
    for path in sorted(DEPLOY.rglob("*")):
        if path.suffix in (".yaml", ".yml"):
            try:
                list(yaml.safe_load_all(path.read_text()))
            except yaml.YAMLError as error:
                fail(f"{rel(path)}: not valid YAML: {error}")
        elif path.suffix == ".json":
            try:
                json.loads(path.read_text())
            except json.JSONDecodeError as error:
                fail(f"{rel(path)}: not valid JSON: {error}")


def check_generated() -> None:
    for name in generate.stale_files():
        fail(f"{name} is stale: run python3 deploy/generate.py")


# -------------------------------------------------------------------------------------- topics

TOPIC_NAME = re.compile(r"[a-zA-Z0-9._-]{1,249}\Z")


def check_topics() -> None:
    seen: dict[str, str] = {}
    for path in generate.TOPIC_FILES:
        document = yaml.safe_load(path.read_text())
        if not isinstance(document, dict) or not isinstance(document.get("topics"), list):
            fail(f"{rel(path)}: expected a mapping with a 'topics' list")
            continue
        for index, entry in enumerate(document["topics"]):
            at = f"{rel(path)}: topics[{index}]"
            unknown = set(entry) - {"name", "partitions", "replication", "configs"}
            if unknown:
                fail(f"{at} has unknown keys {sorted(unknown)}")
            name = entry.get("name")
            if not isinstance(name, str) or not TOPIC_NAME.match(name) or name in (".", ".."):
                fail(f"{at}: name missing or not a valid topic name")
                continue
            if name in seen:
                fail(f"{at}: {name} already listed in {seen[name]}")
            seen[name] = rel(path)
            if not isinstance(entry.get("partitions"), int) or entry["partitions"] < 1:
                fail(f"{at} ({name}): partitions must be a positive integer")
            # Policy: an acknowledged write survives the loss of a broker (acks=all + 3 replicas + 2 in sync).
            if entry.get("replication") != 3:
                fail(f"{at} ({name}): replication must be 3")
            configs = entry.get("configs") or {}
            if any(not isinstance(v, str) for v in configs.values()):
                fail(f"{at} ({name}): config values must be strings (Kafka configs are strings)")
            if configs.get("min.insync.replicas") != "2":
                fail(f"{at} ({name}): min.insync.replicas must be \"2\"")
            policy = configs.get("cleanup.policy")
            if policy not in ("delete", "compact", "compact,delete"):
                fail(f"{at} ({name}): cleanup.policy must be delete, compact or compact,delete")
            elif "delete" in policy and "retention.ms" not in configs:
                fail(f"{at} ({name}): a deleting topic needs an explicit retention.ms")
            for key in ("retention.ms", "delete.retention.ms", "min.compaction.lag.ms"):
                if key in configs and not re.fullmatch(r"-1|\d+", configs[key]):
                    fail(f"{at} ({name}): {key} must be a number of milliseconds")
    mappings = generate.load_topics().get("medbus.mappings")
    if mappings and "compact" not in (mappings.get("configs") or {}).get("cleanup.policy", ""):
        fail("medbus.mappings must be compacted: routers read the latest version of every mapping from it")


# ------------------------------------------------------------------------------------ asyncapi

def resolve_pointer(document, pointer: str):
    node = document
    for part in pointer.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def refs_in(node, found: list[str]) -> list[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.append(value)
            else:
                refs_in(value, found)
    elif isinstance(node, list):
        for value in node:
            refs_in(value, found)
    return found


def check_asyncapi() -> None:
    path = DEPLOY / "asyncapi.yaml"
    document = yaml.safe_load(path.read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from asyncapi3 import AsyncAPI3
        try:
            AsyncAPI3.model_validate(document)
        except Exception as error:  # pydantic.ValidationError: one line per problem
            for line in str(error).splitlines()[1:]:
                if line.strip() and not line.strip().startswith("For further information"):
                    fail(f"asyncapi.yaml: {line.strip()}")
    used_schemas = set()
    for ref in sorted(set(refs_in(document, []))):
        target, _, pointer = ref.partition("#")
        if not target:
            try:
                resolve_pointer(document, pointer)
            except (KeyError, IndexError, ValueError):
                fail(f"asyncapi.yaml: $ref {ref} does not resolve")
            continue
        file = (path.parent / target).resolve()
        if not file.is_file():
            fail(f"asyncapi.yaml: $ref {ref}: no file {target}")
            continue
        schema = json.loads(file.read_text())
        if pointer:
            try:
                schema = resolve_pointer(schema, pointer)
            except (KeyError, IndexError, ValueError):
                fail(f"asyncapi.yaml: $ref {ref}: no {pointer} in {target}")
                continue
        used_schemas.add(file)
        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as error:
            fail(f"{rel(file)}: not a valid JSON Schema: {error.message}")
    for schema in sorted((ROOT / "Mappings" / "schemas").glob("*.json")) + sorted((DEPLOY / "schemas").glob("*.json")):
        if schema.resolve() not in used_schemas:
            fail(f"{rel(schema)} is the payload of no channel: add it to deploy/contracts.yaml")
    # The envelope header names are a contract of the code (MessageEnvelope.Header).
    swift = (ROOT / "Sources" / "MedBusCore" / "MessageEnvelope.swift").read_text()
    block = swift[swift.index("enum Header"):]
    block = block[:block.index("}")]
    code_headers = set(re.findall(r'static let \w+ = "([^"]+)"', block))
    documented = set(yaml.safe_load((DEPLOY / "contracts.yaml").read_text())["headers"]["envelope"])
    for missing in sorted(code_headers - documented):
        fail(f"contracts.yaml: envelope header {missing} (MessageEnvelope.Header) is not documented")
    for extra in sorted(documented - code_headers):
        fail(f"contracts.yaml: envelope header {extra} is not in MessageEnvelope.Header")


def pending_payloads() -> list[str]:
    contracts = yaml.safe_load((DEPLOY / "contracts.yaml").read_text())
    return [f"{c['address']} ({m})" for c in contracts["channels"].values()
            for m, message in c["messages"].items() if "pending" in message["payload"]]


# ------------------------------------------------------------------------------------ coverage

TOPIC_PREFIXES = r"(?:raw|canonical|outbound|dlq|settlement|insurer|rx|dispatch|medbus\.(?:mappings|audit))"
# String literals in Sources/ that start like a topic but are something else.
NOT_TOPICS = [
    (re.compile(r"(his|insurer|dispatch|pharmacy)\.\{\w*\}\Z"), "an envelope source (medbus-source), not a topic"),
    (re.compile(r"(raw\.bench|raw\.his\.bench|raw\.his\.BENCH)"), "benchmark topics (medbus bench)"),
    (re.compile(r"\.(sqlite|db|json|yaml|csv)\Z"), "a file name"),
    (re.compile(r"dispatch\.(vitals|event|\w+-\w+)\Z"), "a message type (medbus-message-type)"),
    (re.compile(r"rx\.(event|prescription|command-result)(\.[\w-]+)?\Z"), "a message type (medbus-message-type)"),
    (re.compile(r"dlq\.(replay|list|show)\Z"), "an audit action"),
]


# A literal right after one of these is a message type, logger label or file name, not a topic.
NOT_TOPIC_CONTEXT = re.compile(r"(messageType|type|label|fileName|file|action)\s*[:=]\s*$")


def channel_patterns() -> list[tuple[str, re.Pattern]]:
    contracts = yaml.safe_load((DEPLOY / "contracts.yaml").read_text())
    return [(c["address"], generate.address_regex(c["address"])) for c in contracts["channels"].values()]


def covered(topic: str, patterns) -> bool:
    """A concrete topic, or a family with {parameters} (from string interpolation), or a prefix
    handed to TopicName.name(prefix, segment)."""
    if any(p.match(topic) for _, p in patterns):
        return True
    if "{" in topic:  # e.g. insurer.{insurer}.replies: fill the parameter with a sample value
        return covered(re.sub(r"\{\w*\}", "X", topic), patterns)
    return any(address.startswith(topic + ".{") for address, _ in patterns)


def project_topics() -> dict[str, str]:
    """Every topic name the project uses → where."""
    found: dict[str, str] = {}
    for topic in generate.load_topics():
        found.setdefault(topic, "topics files")
    literal = re.compile(r'"(' + TOPIC_PREFIXES + r'(?:\.[A-Za-z0-9_\-]+|\.?\\\([^)"]*\))*)"')
    for path in sorted((ROOT / "Sources").rglob("*.swift")):
        if path.name.startswith("Bench"):
            continue
        text = path.read_text()
        for match in literal.finditer(text):
            if NOT_TOPIC_CONTEXT.search(text[max(0, match.start() - 60):match.start()]):
                continue
            topic = re.sub(r"\\\(([^)]*)\)", lambda m: "{" + re.sub(r"\W", "", m.group(1).split(".")[-1]) + "}", match.group(1))
            if topic.endswith("."):
                topic = topic[:-1]
            if "." not in topic or any(pattern.search(topic) for pattern, _ in NOT_TOPICS):
                continue
            found.setdefault(topic, rel(path))
    for path in sorted((ROOT / "Mappings").rglob("*.yaml")):
        if "tests" in path.parts:
            continue
        for match in re.finditer(r"^\s+topic:\s*([A-Za-z0-9._-]+)\s*$", path.read_text(), re.M):
            found.setdefault(match.group(1), rel(path))
    for path in sorted((ROOT / "Adapters").rglob("*.yaml")):
        manifest = yaml.safe_load(path.read_text()) or {}
        if not isinstance(manifest, dict):
            continue
        if isinstance(manifest.get("topic"), str):
            found.setdefault(manifest["topic"], rel(path))
        if isinstance(manifest.get("deadLetterTopic"), str):
            found.setdefault(manifest["deadLetterTopic"], rel(path))
        kind, sender = manifest.get("kind"), manifest.get("sender")
        if kind and sender:
            found.setdefault(raw_topic(kind, sender), rel(path))
        if isinstance(manifest.get("insurer"), str):
            for suffix in ("requests", "replies"):
                found.setdefault(f"insurer.{manifest['insurer']}.{suffix}", rel(path))
    return found


def raw_topic(kind: str, sender: str) -> str:
    """The topic an adapter manifest publishes to, by AdapterManifest.rawTopic's switch."""
    swift = (ROOT / "Sources" / "MedBusAdapterSDK" / "AdapterManifest.swift").read_text()
    switch = swift[swift.index("var rawTopic"):]
    for kinds, target in re.findall(r'case ((?:"[\w-]+",?\s*)+):\s*(?:try )?TopicName\.(\w+)', switch[:switch.index("default:")]):
        if kind in re.findall(r'"([\w-]+)"', kinds):
            return {"rawHIS": f"raw.his.{sender}", "rawDispatch": f"raw.dispatch.{sender}", "dispatchEvents": "dispatch.events"}.get(target, f"raw.{target}.{sender}")
    return f"raw.insurer.{sender}"


def check_coverage() -> None:
    patterns = channel_patterns()
    for topic, where in sorted(project_topics().items()):
        if not covered(topic, patterns):
            fail(f"topic {topic} ({where}) matches no channel of deploy/contracts.yaml")


# ------------------------------------------------------------------------------------ commands

class Medbus:
    """What `medbus … --help` says: subcommands, options (and whether they take a value), arguments."""

    def __init__(self, binary: Path):
        self.binary = binary

    @lru_cache(maxsize=None)
    def help(self, command: tuple[str, ...]) -> dict:
        out = subprocess.run([str(self.binary), *command, "--help"], capture_output=True, text=True, timeout=60)
        text = out.stdout + out.stderr
        sections, current = {}, None
        for line in text.splitlines():
            heading = re.match(r"^([A-Z][A-Z ]*):", line)
            if heading:
                current = heading.group(1)
                sections[current] = [line[len(heading.group(0)):]]
            elif current:
                sections[current].append(line)
        # Options are listed under OPTIONS and under option groups' own headings (ADMIN API, …).
        options = {}
        for name, lines in sections.items():
            if name in ("OVERVIEW", "USAGE", "ARGUMENTS", "SUBCOMMANDS"):
                continue
            for line in lines:
                m = re.match(r"^\s{2}(?:-\w, )?(--[\w-]+(?:/--[\w-]+)*)( <[^>]+>)?", line)
                if m:
                    for flag in m.group(1).split("/"):
                        options[flag] = bool(m.group(2))
        usage = " ".join(sections.get("USAGE", []))
        arguments = [(name, f"<{name}> ..." in usage) for line in sections.get("ARGUMENTS", [])
                     if (m := re.match(r"^\s{2}<([\w-]+)>", line)) for name in [m.group(1)]]
        subcommands = [m.group(1) for line in sections.get("SUBCOMMANDS", []) if (m := re.match(r"^\s{2}([\w-]+)\s", line))]
        return {"ok": out.returncode == 0, "options": options, "arguments": arguments, "subcommands": subcommands}

    def check(self, argv: list[str], where: str) -> dict:
        """Checks one command line (without the program name); returns its options and arguments."""
        command: list[str] = []
        while argv and not argv[0].startswith("-") and argv[0] in self.help(tuple(command))["subcommands"]:
            command.append(argv.pop(0))
        info = self.help(tuple(command))
        if not command or info["subcommands"]:
            fail(f"{where}: `medbus {' '.join(command + argv[:1])}` is not a command")
            return {}
        given: dict[str, list[str]] = {}
        arguments: list[str] = []
        i = 0
        while i < len(argv):
            word = argv[i]
            if word.startswith("--"):
                name, _, inline = word.partition("=")
                if name not in info["options"]:
                    fail(f"{where}: `medbus {' '.join(command)}` has no option {name}")
                    # Skip its value too, if it looks like one, so it is not taken for an argument.
                    i += 2 if not inline and i + 1 < len(argv) and not argv[i + 1].startswith("-") else 1
                    continue
                if info["options"][name] and not inline:
                    if i + 1 >= len(argv):
                        fail(f"{where}: {name} needs a value")
                        break
                    inline = argv[i + 1]
                    i += 1
                given.setdefault(name, []).append(inline)
            else:
                arguments.append(word)
            i += 1
        repeatable = any(more for _, more in info["arguments"])
        if len(arguments) > len(info["arguments"]) and not repeatable:
            fail(f"{where}: `medbus {' '.join(command)}` takes {len(info['arguments'])} argument(s), got {arguments}")
        return {"command": command, "options": given, "arguments": arguments}


def image_files() -> dict[str, Path]:
    """Paths the Dockerfile copies into the image → their source in the repository."""
    files = {}
    for match in re.finditer(r"^COPY (?!--from)(\S+) (\S+)$", (DEPLOY / "Dockerfile").read_text(), re.M):
        files[match.group(2).rstrip("/")] = ROOT / match.group(1)
    return files


def path_exists(path: str, mounts: dict[str, Path | set[str] | None]) -> bool:
    """Whether a container path is provided by a mount (a repository path, the keys of a ConfigMap,
    or None for an empty/ephemeral volume) or the image."""
    if any(target.startswith(path.rstrip("/") + "/") for target in mounts):
        return True  # a folder holding a mounted file
    for target, source in sorted({**image_files(), **mounts}.items(), key=lambda kv: -len(kv[0])):
        if path == target or path.startswith(target + "/"):
            rest = path[len(target):].lstrip("/")
            if source is None:
                return True
            if isinstance(source, set):
                return not rest or rest in source or any(k.startswith(rest + "/") for k in source)
            return (source / rest).exists() if rest else source.exists()
    return False


# Options whose value is a file or folder the process reads.
PATH_OPTIONS = ("--topics", "--adapters", "--destinations", "--mappings", "--policy", "--persons", "--nhsa-adapter",
                "--nhsa-policy", "--commercial-policy", "--rx-service", "--payload-key-file", "--manifest")


def check_command(medbus: Medbus, argv: list[str], where: str, mounts: dict, topics: set[str]) -> None:
    parsed = medbus.check(list(argv), where)
    if not parsed:
        return
    paths = list(parsed["arguments"]) + [v for name in PATH_OPTIONS for v in parsed["options"].get(name, [])]
    for path in paths:
        if path.startswith("/") and not path.startswith("/var/lib/medbus") and not path_exists(path, mounts):
            fail(f"{where}: {path} is neither in the image (deploy/Dockerfile COPY) nor in a mount")
    for insurer in parsed["options"].get("--insurer", []) + parsed["options"].get("--commercial-insurer", []):
        for topic in (f"insurer.{insurer}.requests", f"insurer.{insurer}.replies"):
            if topic not in topics:
                fail(f"{where}: {topic} is in no topics file (brokers do not auto-create topics)")
    for value in parsed["options"].get("--input", []):
        if not value.startswith("^") and value not in topics:
            fail(f"{where}: input topic {value} is in no topics file")


# ------------------------------------------------------------------------------------- compose

def interpolate(text: str) -> str:
    """Compose variable interpolation with defaults: ${VAR:-default} → default."""
    return re.sub(r"\$\{([A-Za-z_]\w*)(?::?-([^}]*))?\}", lambda m: m.group(2) or "", text)


def check_compose(medbus: Medbus) -> None:
    path = DEPLOY / "kafka" / "compose.yaml"
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        result = subprocess.run([docker, "compose", "-f", str(path), "config", "-q"], capture_output=True, text=True)
        if result.returncode != 0:
            fail(f"docker compose config: {result.stderr.strip()}")
    document = yaml.safe_load(interpolate(path.read_text()))
    from compose_spec import PyCompose
    try:
        PyCompose.from_json(json.dumps(document))
    except ValueError as error:
        fail(f"{rel(path)}: not valid under the Compose Specification: {error}")
    # The image's default command (what `docker run medbus` does).
    cmd = re.search(r"^CMD (\[.*\])$", (DEPLOY / "Dockerfile").read_text(), re.M)
    if cmd:
        check_command(medbus, json.loads(cmd.group(1)), "deploy/Dockerfile CMD", {}, set(generate.load_topics()))
    else:
        fail("deploy/Dockerfile: no CMD in exec form")
    services = document.get("services", {})
    volumes = set(document.get("volumes") or {})
    topics = set(generate.load_topics())
    for name, service in services.items():
        where = f"compose service {name}"
        for dependency in service.get("depends_on") or {}:
            if dependency not in services:
                fail(f"{where}: depends on unknown service {dependency}")
        mounts: dict[str, Path | None] = {}
        for volume in service.get("volumes") or []:
            source, target = volume.split(":")[:2]
            if source.startswith((".", "/")):
                host = (path.parent / source).resolve()
                if not host.exists():
                    fail(f"{where}: mounts {source}, which does not exist")
                mounts[target] = host
            else:
                if source not in volumes:
                    fail(f"{where}: volume {source} is not declared under volumes")
                mounts[target] = None
        for tmpfs in ([service["tmpfs"]] if isinstance(service.get("tmpfs"), str) else service.get("tmpfs") or []):
            mounts[tmpfs.split(":")[0]] = None
        image = service.get("image", "")
        if image.startswith("apache/kafka"):
            if not re.fullmatch(r"apache/kafka:\d+\.\d+\.\d+", image):
                fail(f"{where}: pin the apache/kafka image to a release (apache/kafka:X.Y.Z)")
            continue
        if image != "medbus:latest" or service.get("build", {}).get("dockerfile") != "deploy/Dockerfile":
            fail(f"{where}: MedBus services use image medbus:latest built from deploy/Dockerfile")
        if "command" in service:
            check_command(medbus, service["command"], where, mounts, topics)
        for port in service.get("ports") or []:
            container_port = int(str(port).split(":")[-1].split("/")[0])
            if container_port not in listening_ports(service.get("command", []), mounts):
                fail(f"{where}: publishes port {container_port}, which nothing in the service listens on")


def folder_manifests(folder: str, mounts: dict) -> list[Path]:
    """The adapter manifests a process sees in a container folder, as files of deploy/adapters."""
    names = set()
    for target, source in {**image_files(), **mounts}.items():
        if isinstance(source, set) and target == folder:
            names |= {n for n in source if "/" not in n}
        elif isinstance(source, Path) and target == folder and source.is_dir():
            names |= {p.name for p in source.glob("*.yaml")}
        elif isinstance(source, Path) and target.rsplit("/", 1)[0] == folder:
            names.add(Path(target).name)
    return [DEPLOY / "adapters" / n for n in sorted(names) if n.endswith(".yaml") and (DEPLOY / "adapters" / n).exists()]


def listening_ports(argv: list[str], mounts: dict) -> set[int]:
    """Ports a medbus command line listens on: --listen, --admin-port, --settlement-api, and those of
    the adapter manifests it runs (listen, options.httpListen)."""
    ports = set()
    for i, word in enumerate(argv):
        value = word.split("=", 1)[1] if "=" in word else argv[i + 1] if i + 1 < len(argv) else ""
        if word.split("=")[0] in ("--listen", "--admin-port", "--settlement-api"):
            ports.add(int(value.rsplit(":", 1)[-1]))
    manifests = [DEPLOY / "adapters" / Path(a).name for a in argv[2:3] if argv[:2] == ["adapter", "run"] and path_exists(a, mounts)]
    if argv[:1] == ["serve"]:
        manifests += folder_manifests(argv[argv.index("--adapters") + 1] if "--adapters" in argv else "/etc/medbus/adapters", mounts)
    for manifest in manifests:
        document = yaml.safe_load(manifest.read_text()) or {}
        for listen in (document.get("listen"), (document.get("options") or {}).get("httpListen")):
            if listen:
                ports.add(int(str(listen).rsplit(":", 1)[-1]))
    if argv[:2] == ["simulate", "nhsa"] and "--listen" not in argv:
        ports.add(8091)
    return ports


# ---------------------------------------------------------------------------------- kubernetes

KUBERNETES_VERSION = "1.32.0"


KUBERNETES = DEPLOY / "kubernetes"
OVERLAYS = [KUBERNETES / "base", KUBERNETES / "demo"]  # demo = base + simulators


def kubernetes_documents(folder: Path) -> list[tuple[Path, dict]]:
    """The resources of a kustomization, following folder resources (overlays), patches applied."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    documents = []
    for resource in kustomization.get("resources", []):
        path = (folder / resource).resolve()
        if path.is_dir():
            documents += kubernetes_documents(path)
        elif path.is_file():
            documents += [(path, d) for d in yaml.safe_load_all(path.read_text()) if d]
        else:
            fail(f"{rel(folder)}/kustomization.yaml: resource {resource} does not exist")
    for patch in kustomization.get("patches", []):
        path = folder / patch["path"]
        if not path.is_file():
            fail(f"{rel(folder)}/kustomization.yaml: patch {patch['path']} does not exist")
            continue
        apply_volume_patch(documents, yaml.safe_load(path.read_text()))
    return documents


def apply_volume_patch(documents: list[tuple[Path, dict]], patch: dict) -> None:
    """The one kind of patch we use (volumes replaced by name), as kustomize's strategic merge does."""
    for _, document in documents:
        if document.get("kind") == patch["kind"] and document["metadata"]["name"] == patch["metadata"]["name"]:
            volumes = document["spec"]["template"]["spec"].setdefault("volumes", [])
            for volume in patch["spec"]["template"]["spec"]["volumes"]:
                volumes[:] = [v for v in volumes if v["name"] != volume["name"]] + [volume]


def kustomize_renders(folder: Path) -> None:
    """Where kubectl is installed, `kubectl kustomize` must accept the folder (offline)."""
    kubectl = shutil.which("kubectl")
    if kubectl:
        result = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True)
        if result.returncode != 0:
            fail(f"kubectl kustomize {rel(folder)}: {result.stderr.strip()}")


def volume_files(workload: str, volume: dict, configmaps: dict[str, set], secrets: dict[str, set]) -> set[str] | None:
    """The file names a ConfigMap or Secret volume provides (None for other volumes), after checking
    that the object is defined and has every key the volume's items name."""
    for field, name_key, objects, what in (("configMap", "name", configmaps, "ConfigMap"), ("secret", "secretName", secrets, "Secret")):
        if field not in volume:
            continue
        name = volume[field][name_key]
        if name not in objects:
            fail(f"{workload}: volume {volume['name']} uses {what} {name}, which is not defined (or, for a Secret, described in secret.example.yaml)")
            return set()
        items = volume[field].get("items")
        for item in items or []:
            if item["key"] not in objects[name]:
                fail(f"{workload}: {what} {name} has no key {item['key']}")
        return {i["path"] for i in items} if items else objects[name]
    return None


def check_kubernetes(medbus: Medbus) -> None:
    import kubernetes_validate
    for folder in OVERLAYS:
        kustomize_renders(folder)
    documents = kubernetes_documents(OVERLAYS[-1])
    example = KUBERNETES / "base" / "secret.example.yaml"
    extra = [(example, d) for d in yaml.safe_load_all(example.read_text()) if d]
    for path, document in documents + extra:
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            fail(f"{path.name}: {document.get('kind')} {document.get('metadata', {}).get('name')}: {error.message} at {'.'.join(map(str, error.path))}")
        except Exception as error:  # unknown kind/apiVersion
            fail(f"{path.name}: {document.get('kind')} {document.get('metadata', {}).get('name')}: {error}")
    by_kind: dict[str, dict[str, dict]] = {}
    for _, document in documents + extra:
        by_kind.setdefault(document["kind"], {})[document["metadata"]["name"]] = document
    configmaps = {name: set(d.get("data", {})) for name, d in by_kind.get("ConfigMap", {}).items()}
    secrets = {name: set(d.get("stringData", {})) | set(d.get("data", {})) for name, d in by_kind.get("Secret", {}).items()}
    topics = set(generate.load_topics())
    workloads = [d for kind in ("Deployment", "StatefulSet", "Job") for d in by_kind.get(kind, {}).values()]
    for workload in workloads:
        name = f"{workload['kind']} {workload['metadata']['name']}"
        template = workload["spec"]["template"]
        spec = template["spec"]
        if workload["kind"] != "Job":
            selector = workload["spec"]["selector"]["matchLabels"]
            if any(template["metadata"]["labels"].get(k) != v for k, v in selector.items()):
                fail(f"{name}: selector does not match the pod labels")
        volumes = {volume["name"]: volume_files(name, volume, configmaps, secrets) for volume in spec.get("volumes", [])}
        claims = {c["metadata"]["name"] for c in workload["spec"].get("volumeClaimTemplates", [])}
        for container in spec.get("initContainers", []) + spec["containers"]:
            where = f"{name} container {container['name']}"
            if container["image"] != "medbus":
                fail(f"{where}: image {container['image']}: MedBus workloads use the image `medbus` (set in kustomization.yaml)")
            mounts: dict = {}
            for mount in container.get("volumeMounts", []):
                if mount["name"] not in volumes and mount["name"] not in claims:
                    fail(f"{where}: mounts volume {mount['name']}, which is not defined")
                    continue
                source = volumes.get(mount["name"])
                if "subPath" in mount and isinstance(source, set):
                    if mount["subPath"] not in source:
                        fail(f"{where}: subPath {mount['subPath']} is not in volume {mount['name']}")
                    mounts[mount["mountPath"]] = None
                else:
                    mounts[mount["mountPath"]] = source
            for env in container.get("env", []):
                ref = env.get("valueFrom", {})
                if "configMapKeyRef" in ref and ref["configMapKeyRef"]["key"] not in configmaps.get(ref["configMapKeyRef"]["name"], set()):
                    fail(f"{where}: env {env['name']}: no key {ref['configMapKeyRef']['key']} in ConfigMap {ref['configMapKeyRef']['name']}")
                if "secretKeyRef" in ref and ref["secretKeyRef"]["key"] not in secrets.get(ref["secretKeyRef"]["name"], set()):
                    fail(f"{where}: env {env['name']}: no key {ref['secretKeyRef']['key']} in Secret {ref['secretKeyRef']['name']}")
            port_names = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                get = container.get(probe, {}).get("httpGet")
                if get and get["port"] not in port_names and get["port"] not in port_names.values():
                    fail(f"{where}: {probe} uses port {get['port']}, which the container does not declare")
                if get and get["path"] not in ("/healthz", "/readyz"):
                    fail(f"{where}: {probe} path {get['path']}: MedBus serves /healthz and /readyz")
            argv = container.get("args", [])
            check_command(medbus, argv, where, mounts, topics)
            listening = listening_ports(argv, mounts)
            for port in port_names.values():
                if port not in listening:
                    fail(f"{where}: declares port {port}, which the command does not listen on")
    for service in by_kind.get("Service", {}).values():
        selector = service["spec"].get("selector", {})
        targets = [w for w in workloads if w["kind"] != "Job" and all(w["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in selector.items())]
        if not targets:
            fail(f"Service {service['metadata']['name']}: selector {selector} matches no workload")
        for port in service["spec"].get("ports", []):
            target = port.get("targetPort", port["port"])
            declared = [p for w in targets for c in w["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])]
            if not any(target in (p.get("name"), p["containerPort"]) for p in declared):
                fail(f"Service {service['metadata']['name']}: targetPort {target} is not a port of its pods")
    for pdb in by_kind.get("PodDisruptionBudget", {}).values():
        selector = pdb["spec"]["selector"]["matchLabels"]
        if not any(all(w["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in selector.items()) for w in workloads):
            fail(f"PodDisruptionBudget {pdb['metadata']['name']}: selector matches no workload")
    for name, keys in configmaps.items():
        size = sum(len(v.encode()) for v in by_kind["ConfigMap"][name].get("data", {}).values())
        if size > 1_000_000:
            fail(f"ConfigMap {name}: {size} bytes, over Kubernetes' 1 MiB limit")


# ------------------------------------------------------------------------------------- systemd

def systemd_analyze(unit: Path) -> None:
    """Where systemd-analyze is installed: unknown sections, keys and bad values. The binary is not
    installed here, so its own complaint about /usr/local/bin/medbus is expected."""
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        return
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / unit.name.replace("@.", "@check.")
        copy.write_text(unit.read_text())
        result = subprocess.run([analyze, "verify", "--man=no", str(copy)], capture_output=True, text=True)
        for line in (result.stdout + result.stderr).splitlines():
            if line.strip() and "/usr/local/bin/medbus is not executable" not in line:
                fail(f"{unit.name}: systemd-analyze: {line.replace(folder + '/', '')}")


def check_systemd(medbus: Medbus) -> None:
    environment = {}
    for line in (DEPLOY / "systemd" / "medbus.env.example").read_text().splitlines():
        if re.match(r"^[A-Z_]+=", line):
            key, _, value = line.partition("=")
            environment[key] = value
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        systemd_analyze(unit)
        text = unit.read_text()
        for required in ("[Unit]", "[Service]", "[Install]"):
            if required not in text:
                fail(f"{unit.name}: no {required} section")
        for line in text.splitlines():
            if not line.startswith("ExecStart="):
                continue
            words = line[len("ExecStart="):].split()
            if words[0] != "/usr/local/bin/medbus":
                fail(f"{unit.name}: ExecStart runs {words[0]}, not /usr/local/bin/medbus")
            argv = []
            for word in words[1:]:
                braced = re.fullmatch(r"\$\{(\w+)\}", word)
                bare = re.fullmatch(r"\$(\w+)", word)
                if braced:
                    argv.append(environment.get(braced.group(1), "x"))
                elif bare:  # split at whitespace into zero or more words
                    argv += environment.get(bare.group(1), "").split()
                else:
                    argv.append(word.replace("%i", "instance").replace("%H", "host"))
            # Bare-metal paths are the operator's (/etc/medbus/...), installed as the unit's header says.
            medbus.check(argv, unit.name)


# ------------------------------------------------------------------------------------- grafana

def metrics_list() -> dict[str, tuple[str, set[str]]]:
    """deploy/metrics.txt: `name type label,label` per line → (type, labels)."""
    metrics = {}
    for line in (DEPLOY / "metrics.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, kind, *labels = line.split()
            metrics[name] = (kind, set(labels[0].split(",")) if labels and labels[0] != "-" else set())
    return metrics


def check_grafana() -> None:
    metrics = metrics_list()
    for name, (kind, _) in metrics.items():
        if not re.fullmatch(r"medbus_[a-z0-9_]+", name):
            fail(f"metrics.txt: {name} does not follow medbus_snake_case")
        if kind == "counter" and not name.endswith("_total"):
            fail(f"metrics.txt: counter {name} does not end in _total")
    for path in sorted((DEPLOY / "grafana").glob("*.json")):
        dashboard = json.loads(path.read_text())
        exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
        if not exprs:
            fail(f"{rel(path)}: no queries")
        for expr in exprs:
            names = set(re.findall(r"\bmedbus_[a-z0-9_]+", expr))
            if not names:
                fail(f"{rel(path)}: query {expr} uses no MedBus metric")
            for name in names:
                base = re.sub(r"_(bucket|sum|count)$", "", name)
                if name not in metrics and not (base in metrics and metrics[base][0] == "histogram"):
                    fail(f"{rel(path)}: metric {name} is not in deploy/metrics.txt")
                    continue
                labels = metrics.get(name, metrics.get(base))[1] | {"le", "job", "instance"}
                for group in re.findall(r"by \(([^)]*)\)", expr):
                    for label in filter(None, map(str.strip, group.split(","))):
                        if label not in labels:
                            fail(f"{rel(path)}: {name} has no label {label}")


# ---------------------------------------------------------------------------------------- main

def main() -> int:
    global section
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--medbus", default=str(ROOT / ".build" / "debug" / "medbus"), help="the medbus binary whose --help the command lines are checked against")
    args = parser.parse_args()
    binary = Path(args.medbus)
    if not binary.is_file():
        print(f"deploy/check.py: {binary} not found; build first (swift build)", file=sys.stderr)
        return 2
    medbus = Medbus(binary)
    sections = [("files", check_files), ("generated", check_generated), ("topics", check_topics), ("asyncapi", check_asyncapi),
                ("coverage", check_coverage), ("compose", lambda: check_compose(medbus)), ("kubernetes", lambda: check_kubernetes(medbus)),
                ("systemd", lambda: check_systemd(medbus)), ("grafana", check_grafana)]
    for name, run in sections:
        section = name
        try:
            run()
        except Exception as error:  # a crash in one section is a failure of that section, not of the others
            fail(f"check crashed: {type(error).__name__}: {error}")
        for message in problems.get(name, []):
            print(f"deploy/check.py: {name}: {message}")
    pending = pending_payloads()
    if pending:
        print(f"deploy/check.py: note: {len(pending)} message(s) without a published JSON Schema yet: {', '.join(pending)}")
    failed = sum(1 for name, _ in sections if problems.get(name))
    print(f"deploy: {len(sections) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
