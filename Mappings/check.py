#!/usr/bin/env python3
"""Static checks of Mappings/ that need no MedBus build.

    python3 Mappings/check.py            # exit 0 when everything holds, 1 otherwise

Checks:
  * mapping.schema.json, golden-test.schema.json and schemas/*.schema.json are valid JSON Schema
    draft 2020-12; canonical schemas use only the keywords the engine's validator supports, have
    an $id under https://medbus.example/schemas/, only local $refs that resolve, and
    additionalProperties: false on every object;
  * codes/*.csv are UTF-8 with the header code,target,display, no empty code or target, no
    duplicate code (reported with its line);
  * every mapping (<area>/*.yaml) starts with the yaml-language-server modeline, validates against
    mapping.schema.json, has a unique name and unique target names, refers to code tables and
    schemas that exist, uses only declared code tables, paths whose syntax fits its source format,
    json body fields its target schema allows, and code tables whose targets (and defaults) are
    allowed by the schema field's enum;
  * every golden test (<area>/tests/*.yaml) starts with the modeline, validates against
    golden-test.schema.json, names a mapping and input files that exist, expects only targets and
    topics the mapping has, names a target in expectError.rule, and every expected json body
    validates against its target's canonical schema (formats date and date-time checked); hl7v2
    bodies start with MSH and use the target's MSH-9 and MSH-12.

Needs: jsonschema (4.x), PyYAML. Messages name the file and the reason; never message content.
"""
from __future__ import annotations

import csv
import io
import json
import re
import sys
from pathlib import Path

try:
    import yaml
    import jsonschema
    from jsonschema import Draft202012Validator, FormatChecker
except ImportError as error:  # pragma: no cover
    print(f"check.py: missing Python package ({error.name}); pip install jsonschema pyyaml", file=sys.stderr)
    sys.exit(2)

ROOT = Path(__file__).resolve().parent
AREAS = [p for p in sorted(ROOT.iterdir()) if p.is_dir() and p.name not in ("schemas", "codes") and not p.name.startswith((".", "_"))]
ALLOWED_KEYWORDS = {"type", "properties", "required", "additionalProperties", "items", "enum", "const", "pattern",
                    "minLength", "maxLength", "minItems", "minimum", "maximum", "format", "$ref", "$defs", "title",
                    "description", "$id", "$schema"}
ALLOWED_FORMATS = {"date", "date-time"}

errors: list[str] = []


def fail(path: Path | str, message: str) -> None:
    errors.append(f"{rel(path)}: {message}")


def rel(path: Path | str) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT.parent))
    except ValueError:
        return str(path)


def load_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        fail(path, f"not readable JSON ({error})")
        return None


def load_yaml(path: Path):
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        fail(path, f"not readable YAML ({str(error).splitlines()[0]})")
        return None


def schema_errors(validator: Draft202012Validator, instance) -> list[str]:
    found = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    out = []
    for error in found[:5]:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        best = jsonschema.exceptions.best_match([error])
        out.append(f"at {where}: {best.message if len(best.message) < 200 else best.message[:200] + '…'}")
    return out


# ---------------------------------------------------------------------------------------- schemas

def check_canonical_schema(path: Path, schema) -> None:
    if schema.get("$schema") != "https://json-schema.org/draft/2020-12/schema":
        fail(path, "$schema must be https://json-schema.org/draft/2020-12/schema")
    expected_id = f"https://medbus.example/schemas/{path.name}"
    if schema.get("$id") != expected_id:
        fail(path, f"$id must be {expected_id}")
    defs = schema.get("$defs", {})

    def walk(node, where: str) -> None:
        if not isinstance(node, dict):
            fail(path, f"{where}: a schema must be an object")
            return
        for key in node:
            if key not in ALLOWED_KEYWORDS:
                fail(path, f"{where}: keyword {key!r} is not supported by the engine's validator")
        if "format" in node and node["format"] not in ALLOWED_FORMATS:
            fail(path, f"{where}: format {node['format']!r} not supported (date, date-time)")
        if "additionalProperties" in node and not isinstance(node["additionalProperties"], bool):
            fail(path, f"{where}: additionalProperties must be a boolean")
        if "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/$defs/") or ref[len("#/$defs/"):] not in defs:
                fail(path, f"{where}: $ref {ref!r} does not resolve to #/$defs/…")
        if node.get("type") == "object" or "properties" in node:
            if node.get("additionalProperties") is not False:
                fail(path, f"{where}: object without additionalProperties: false")
            for name in node.get("required", []):
                if name not in node.get("properties", {}):
                    fail(path, f"{where}: required field {name!r} is not a property")
        for name, sub in node.get("properties", {}).items():
            walk(sub, f"{where}/properties/{name}")
        if "items" in node:
            walk(node["items"], f"{where}/items")
        for name, sub in node.get("$defs", {}).items():
            walk(sub, f"{where}/$defs/{name}")

    walk(schema, "#")


def load_schemas() -> dict[Path, dict]:
    schemas: dict[Path, dict] = {}
    for name in ("mapping.schema.json", "golden-test.schema.json"):
        path = ROOT / name
        schema = load_json(path)
        if schema is None:
            continue
        try:
            Draft202012Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as error:
            fail(path, f"not a valid draft 2020-12 schema: {error.message}")
            continue
        schemas[path] = schema
    canonical = sorted((ROOT / "schemas").glob("*.schema.json"))
    if not canonical:
        fail(ROOT / "schemas", "no canonical schemas")
    for path in canonical:
        schema = load_json(path)
        if schema is None:
            continue
        try:
            Draft202012Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as error:
            fail(path, f"not a valid draft 2020-12 schema: {error.message}")
            continue
        check_canonical_schema(path, schema)
        schemas[path.resolve()] = schema
    return schemas


# ------------------------------------------------------------------------------------ code tables

_tables: dict[Path, dict[str, str] | None] = {}


def load_table(path: Path) -> dict[str, str] | None:
    path = path.resolve()
    if path not in _tables:
        _tables[path] = _read_table(path)
    return _tables[path]


def _read_table(path: Path) -> dict[str, str] | None:
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError:
        fail(path, "code table file is missing")
        return None
    except UnicodeDecodeError:
        fail(path, "code table is not UTF-8")
        return None
    if text.startswith("\ufeff"):
        fail(path, "code table starts with a byte-order mark")
        text = text[1:]
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    if not rows or rows[0] != ["code", "target", "display"]:
        fail(path, "line 1: header must be code,target,display")
        return None
    table: dict[str, str] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 3:
            fail(path, f"line {number}: expected 3 columns, found {len(row)}")
            continue
        code, target, _ = row
        if not code or not target:
            fail(path, f"line {number}: empty code or target")
        elif code != code.strip() or target != target.strip():
            fail(path, f"line {number}: code or target with surrounding spaces")
        if code in table:
            fail(path, f"line {number}: duplicate code {code!r}")
        table[code] = target
    return table


# ----------------------------------------------------------------------------------------- paths

HL7_SEGMENT = r"[A-Z][A-Z0-9]{2}"
HL7_PATH = re.compile(rf"^{HL7_SEGMENT}(\[[1-9][0-9]*\])?-[1-9][0-9]*(\[[1-9][0-9]*\])?(\.[1-9][0-9]*){{0,2}}$")
HL7_SELECTOR = re.compile(rf"^{HL7_SEGMENT}$|^{HL7_SEGMENT}(\[[1-9][0-9]*\])?-[1-9][0-9]*$")
JSON_STEP = r"(\.[A-Za-z_][A-Za-z0-9_]*|\['[^']+'\]|\[[0-9]+\])"
JSON_PATH = re.compile(rf"^[$@]{JSON_STEP}*$")
JSON_SELECTOR = re.compile(rf"^[$@]({JSON_STEP}|\[\*\])*$")
V3_STEP = r"([A-Za-z_][A-Za-z0-9_.-]*|@[A-Za-z_][A-Za-z0-9_.-]*|text\(\))(\[([1-9][0-9]*|@[A-Za-z_][A-Za-z0-9_.-]*='[^']*')\])*"
V3_PATH = re.compile(rf"^(//?)?{V3_STEP}(//?{V3_STEP})*$")
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def path_ok(fmt: str, path, selector: bool = False) -> bool:
    if not isinstance(path, str):
        return False
    if fmt == "hl7v2":
        return bool((HL7_SELECTOR if selector else HL7_PATH).match(path))
    if fmt == "json":
        return bool((JSON_SELECTOR if selector else JSON_PATH).match(path))
    return bool(V3_PATH.match(path))


# -------------------------------------------------------------------------------------- mappings

RULE_SOURCES = ("path", "paths", "const", "format", "header", "index", "object", "each")


class MappingInfo:
    def __init__(self, path: Path, data: dict):
        self.path = path
        self.data = data
        self.targets = {t["name"]: t for t in data.get("targets", []) if isinstance(t, dict) and "name" in t}
        self.tables: dict[str, dict[str, str] | None] = {}


def check_condition(info: MappingInfo, fmt: str, cond, where: str) -> None:
    if not isinstance(cond, dict):
        return
    for key in ("exists", "path"):
        if key in cond and not path_ok(fmt, cond[key]):
            fail(info.path, f"{where}: path {cond[key]!r} does not parse for {fmt}")
    for key in ("all", "any"):
        for i, sub in enumerate(cond.get(key, []) or []):
            check_condition(info, fmt, sub, f"{where}.{key}[{i}]")
    if "not" in cond:
        check_condition(info, fmt, cond["not"], f"{where}.not")
    if "matches" in cond:
        try:
            re.compile(cond["matches"])
        except re.error as error:
            fail(info.path, f"{where}: regular expression does not compile ({error})")


def check_rule(info: MappingInfo, fmt: str, rule, where: str, field_schema: dict | None, defs: dict, in_each: bool = False) -> None:
    """Checks a value rule; field_schema is the canonical schema of the value it produces (json targets);
    in_each: an enclosing each (a rule's, the target's, an hl7v2 segment's) gives `index` a position."""
    if not isinstance(rule, dict):
        return
    if "index" in rule and not in_each:
        fail(info.path, f"{where}: index is the position in an enclosing each: use it inside each")
    if field_schema and "$ref" in field_schema:
        field_schema = defs.get(field_schema["$ref"].split("/")[-1], {})
    if "path" in rule and not path_ok(fmt, rule["path"]):
        fail(info.path, f"{where}: path {rule['path']!r} does not parse for {fmt}")
    for p in rule.get("paths", []) or []:
        if not path_ok(fmt, p):
            fail(info.path, f"{where}: path {p!r} does not parse for {fmt}")
    if "format" in rule and isinstance(rule["format"], str):
        names = [m.group(1) for m in PLACEHOLDER.finditer(rule["format"]) if m.group(1) is not None]
        if not names:
            fail(info.path, f"{where}: format without a placeholder (use const)")
        for name in names:
            if not path_ok(fmt, name):
                fail(info.path, f"{where}: placeholder {{{name}}} does not parse for {fmt}")
    if "when" in rule:
        check_condition(info, fmt, rule["when"], f"{where}.when")
    if "code" in rule:
        table_name = rule["code"]
        if table_name not in info.tables:
            fail(info.path, f"{where}: code table {table_name!r} is not declared under codeTables")
        elif field_schema and "enum" in field_schema and info.tables[table_name] is not None:
            allowed = set(field_schema["enum"])
            declaration = info.data["codeTables"][table_name]
            for code, target in info.tables[table_name].items():
                if target not in allowed:
                    fail(info.path, f"{where}: table {table_name!r} maps {code!r} to {target!r}, which the schema does not allow")
            if declaration.get("onMissing") == "default" and declaration.get("default") not in allowed:
                fail(info.path, f"{where}: table {table_name!r} default {declaration.get('default')!r} is not allowed by the schema")
            if declaration.get("onMissing") == "passThrough":
                fail(info.path, f"{where}: passThrough table {table_name!r} feeds an enum field")
    if "type" in rule and "const" in rule:
        value, kind = rule["const"], rule["type"]
        if kind in ("money", "decimal", "integer") and not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", str(value)):
            fail(info.path, f"{where}: const is not a {kind}")
        if kind == "money" and re.fullmatch(r"-?[0-9]+\.[0-9]{3,}", str(value)):
            fail(info.path, f"{where}: money const with more than two fraction digits")
    if field_schema is not None and fmt_target_is_json(field_schema):
        expected = field_schema.get("type")
        produced = produced_type(rule)
        if expected and produced and not type_compatible(produced, expected):
            fail(info.path, f"{where}: rule produces {produced} but the schema wants {expected}")
    if "object" in rule and isinstance(rule["object"], dict):
        props = (field_schema or {}).get("properties") if field_schema is not None else None
        for name, sub in rule["object"].items():
            if field_schema is not None and props is not None and name not in props:
                fail(info.path, f"{where}.{name}: field not allowed by the target schema")
            check_rule(info, fmt, sub, f"{where}.{name}", (props or {}).get(name) if field_schema is not None else None, defs, in_each)
    if "each" in rule:
        if not path_ok(fmt, rule["each"], selector=True):
            fail(info.path, f"{where}: selector {rule['each']!r} does not parse for {fmt}")
        item_schema = (field_schema or {}).get("items") if field_schema is not None else None
        check_rule(info, fmt, rule.get("item"), f"{where}[]", item_schema if field_schema is not None else None, defs, True)


def fmt_target_is_json(field_schema) -> bool:
    return isinstance(field_schema, dict)


def produced_type(rule: dict) -> str | None:
    if "object" in rule:
        return "object"
    if "each" in rule:
        return "array"
    kind = rule.get("type")
    if kind in ("decimal", "money"):
        return "number"
    if kind == "integer":
        return "integer"
    if kind == "boolean":
        return "boolean"
    if kind in ("date", "datetime", "string"):
        return "string"
    if "index" in rule:
        return "integer"
    if "const" in rule:
        value = rule["const"]
        return {bool: "boolean", int: "integer", float: "number", str: "string"}.get(type(value))
    if "code" in rule or "path" in rule or "paths" in rule or "format" in rule or "header" in rule:
        return "string"
    return None


def type_compatible(produced: str, expected) -> bool:
    expected = expected if isinstance(expected, list) else [expected]
    return produced in expected or (produced == "integer" and "number" in expected)


def check_mapping(path: Path, schemas: dict, mapping_validator: Draft202012Validator, names: dict) -> MappingInfo | None:
    text = path.read_text(encoding="utf-8")
    if not text.startswith("# yaml-language-server: $schema=../mapping.schema.json"):
        fail(path, "first line must be '# yaml-language-server: $schema=../mapping.schema.json'")
    data = load_yaml(path)
    if not isinstance(data, dict):
        if data is not None:
            fail(path, "a mapping file must be a YAML mapping")
        return None
    for message in schema_errors(mapping_validator, data):
        fail(path, f"mapping.schema.json: {message}")
    info = MappingInfo(path, data)
    name = data.get("name")
    if name in names:
        fail(path, f"mapping name {name!r} also used by {rel(names[name])}")
    names[name] = path
    target_names = [t.get("name") for t in data.get("targets", []) if isinstance(t, dict)]
    for duplicate in {n for n in target_names if target_names.count(n) > 1}:
        fail(path, f"target name {duplicate!r} used twice")
    for table_name, declaration in (data.get("codeTables") or {}).items():
        if isinstance(declaration, dict) and isinstance(declaration.get("file"), str):
            info.tables[table_name] = load_table((path.parent / declaration["file"]).resolve())
    fmt = (data.get("source") or {}).get("format", "hl7v2")
    if "typePath" in (data.get("source") or {}) and not path_ok("json", data["source"]["typePath"]):
        fail(path, "source.typePath does not parse")
    if "filter" in data:
        check_condition(info, fmt, data["filter"], "filter")
    for target in data.get("targets", []):
        if not isinstance(target, dict):
            continue
        tname = target.get("name", "?")
        if "each" in target and not path_ok(fmt, target["each"], selector=True):
            fail(path, f"{tname}: selector {target['each']!r} does not parse for {fmt}")
        if "when" in target:
            check_condition(info, fmt, target["when"], f"{tname}.when")
        target_each = "each" in target
        check_rule(info, fmt, target.get("key"), f"{tname}.key", None, {}, target_each)
        body = target.get("body") or {}
        if target.get("format", "json") == "json":
            schema_path = (path.parent / str(target.get("schema", ""))).resolve()
            schema = schemas.get(schema_path)
            if schema is None:
                fail(path, f"{tname}: schema {target.get('schema')!r} is missing or invalid")
                continue
            target["_schema"] = schema
            defs = schema.get("$defs", {})
            props = schema.get("properties", {})
            for field, rule in body.items():
                if field not in props:
                    fail(path, f"{tname}.{field}: field not allowed by {schema_path.name}")
                check_rule(info, fmt, rule, f"{tname}.{field}", props.get(field, {}), defs, target_each)
            for field in schema.get("required", []):
                if field not in body:
                    fail(path, f"{tname}: schema field {field!r} is required but the body never writes it")
        elif target.get("format") == "hl7v2":
            message = target.get("message") or {}
            for key in ("sendingFacility", "receivingFacility", "sendingApplication", "receivingApplication"):
                if isinstance(message.get(key), dict):
                    check_rule(info, fmt, message[key], f"{tname}.message.{key}", None, {}, target_each)
            for out_path, rule in body.items():
                if isinstance(rule, dict) and "segment" in rule:
                    if not path_ok(fmt, rule.get("each"), selector=True):
                        fail(path, f"{tname}.{out_path}: selector {rule.get('each')!r} does not parse for {fmt}")
                    for seg_path, seg_rule in (rule.get("segment") or {}).items():
                        if not seg_path.startswith(out_path + "-"):
                            fail(path, f"{tname}.{out_path}: {seg_path} is not a field of {out_path}")
                        check_rule(info, fmt, seg_rule, f"{tname}.{seg_path}", None, {}, True)
                else:
                    check_rule(info, fmt, rule, f"{tname}.{out_path}", None, {}, target_each)
    return info


# ---------------------------------------------------------------------------------- golden tests

def check_golden(path: Path, golden_validator: Draft202012Validator, mappings: dict[Path, MappingInfo]) -> int:
    text = path.read_text(encoding="utf-8")
    if not text.startswith("# yaml-language-server: $schema=../../golden-test.schema.json"):
        fail(path, "first line must be '# yaml-language-server: $schema=../../golden-test.schema.json'")
    data = load_yaml(path)
    if not isinstance(data, dict):
        return 0
    for message in schema_errors(golden_validator, data):
        fail(path, f"golden-test.schema.json: {message}")
    mapping_path = (path.parent / str(data.get("mapping", ""))).resolve()
    info = mappings.get(mapping_path)
    if info is None:
        fail(path, f"mapping {data.get('mapping')!r} is missing or invalid")
        return 0
    fmt = info.data.get("source", {}).get("format")
    cases = data.get("cases") or []
    seen = set()
    for index, case in enumerate(cases):
        if not isinstance(case, dict):
            continue
        label = f"case {index + 1} ({case.get('name', '?')})"
        if case.get("name") in seen:
            fail(path, f"{label}: duplicate case name")
        seen.add(case.get("name"))
        source = case.get("input") or {}
        if "file" in source:
            input_path = (path.parent / source["file"]).resolve()
            if not input_path.is_file():
                fail(path, f"{label}: input file {source['file']!r} does not exist")
        elif "text" in source:
            text_input = source["text"]
            if fmt == "hl7v2" and not text_input.startswith("MSH"):
                fail(path, f"{label}: hl7v2 input text must start with MSH")
            if fmt == "json":
                try:
                    json.loads(text_input)
                except json.JSONDecodeError as error:
                    fail(path, f"{label}: input text is not JSON ({error.msg} at line {error.lineno})")
            if fmt == "hl7v3" and not text_input.lstrip().startswith("<"):
                fail(path, f"{label}: hl7v3 input text is not XML")
        rule = (case.get("expectError") or {}).get("rule")
        if rule and rule.split(".")[0] not in info.targets:
            fail(path, f"{label}: expectError.rule {rule!r} does not start with a target name")
        for output in case.get("expect") or []:
            if not isinstance(output, dict):
                continue
            target = info.targets.get(output.get("target"))
            if target is None:
                fail(path, f"{label}: target {output.get('target')!r} is not in {rel(info.path)}")
                continue
            if "topic" in output and output["topic"] != target.get("topic"):
                fail(path, f"{label}: topic {output['topic']!r} differs from the target's {target.get('topic')!r}")
            body = output.get("body")
            if target.get("format", "json") == "json":
                schema = target.get("_schema")
                if schema is None:
                    continue
                validator = Draft202012Validator(schema, format_checker=FormatChecker())
                for message in schema_errors(validator, body):
                    fail(path, f"{label}: expected body does not fit {Path(target['schema']).name}: {message}")
            else:
                if not isinstance(body, str):
                    fail(path, f"{label}: hl7v2 body must be the message text")
                    continue
                lines = [line for line in body.replace("\r\n", "\n").replace("\r", "\n").split("\n") if line]
                if not lines or not lines[0].startswith("MSH|"):
                    fail(path, f"{label}: hl7v2 body must start with an MSH segment")
                    continue
                msh = lines[0].split("|")
                message = target.get("message", {})
                if len(msh) < 12 or msh[8] != message.get("type") or msh[11] != message.get("version", "2.5"):
                    fail(path, f"{label}: MSH-9 / MSH-12 differ from the target's message type and version")
                for line in lines:
                    if not re.match(r"^[A-Z][A-Z0-9]{2}(\||$)", line):
                        fail(path, f"{label}: line {line[:3]!r}… is not a segment")
    return len(cases)


def main() -> int:
    schemas = load_schemas()
    mapping_schema = schemas.get(ROOT / "mapping.schema.json")
    golden_schema = schemas.get(ROOT / "golden-test.schema.json")
    for path in sorted((ROOT / "codes").glob("*.csv")):
        load_table(path)
    mappings: dict[Path, MappingInfo] = {}
    test_files = 0
    case_count = 0
    if mapping_schema and golden_schema:
        mapping_validator = Draft202012Validator(mapping_schema)
        golden_validator = Draft202012Validator(golden_schema)
        names: dict = {}
        for area in AREAS:
            for path in sorted(area.glob("*.yaml")):
                info = check_mapping(path, schemas, mapping_validator, names)
                if info is not None:
                    mappings[path.resolve()] = info
        tested = set()
        for area in AREAS:
            for path in sorted((area / "tests").glob("*.yaml")):
                test_files += 1
                case_count += check_golden(path, golden_validator, mappings)
                data = load_yaml(path) or {}
                tested.add((path.parent / str(data.get("mapping", ""))).resolve())
        for path in mappings:
            if path not in tested:
                fail(path, "mapping has no golden test")
    for error in errors:
        print(error)
    summary = (f"{len([p for p in schemas if 'schemas' in p.parts])} canonical schemas, "
               f"{len(list((ROOT / 'codes').glob('*.csv')))} code tables, {len(mappings)} mappings, "
               f"{test_files} golden test files ({case_count} cases)")
    if errors:
        print(f"check.py: {len(errors)} problem(s); {summary}", file=sys.stderr)
        return 1
    print(f"check.py: ok; {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
