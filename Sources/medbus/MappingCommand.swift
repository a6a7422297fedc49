import ArgumentParser
import Foundation
import MedBusKafka
import MedBusMapping
import MedBusRegistry

/// `medbus mapping …`: the operator's tools for mapping files. `validate`, `test` and `diff FILE`
/// work on files alone; the registry commands use the data directory's registry and announce
/// changes on `medbus.mappings`, from which every running router picks them up.
struct MappingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mapping",
        abstract: "Validate, test, publish and roll back mapping files.",
        subcommands: [Validate.self, Test.self, Diff.self, Publish.self, List.self, History.self, Show.self, Rollback.self]
    )

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check mapping files; errors as file:line:column: message.")
        @Argument(help: "Mapping files (*.yaml).") var files: [String]

        func run() throws {
            let diagnostics = MappingValidator.validate(files: files.map { URL(fileURLWithPath: $0) })
            for diagnostic in diagnostics { printError("\(diagnostic)") }
            guard diagnostics.isEmpty else { throw ExitCode.failure }
            print("\(files.count) mapping file\(files.count == 1 ? "" : "s") valid")
        }
    }

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run golden tests (--all: every Mappings/**/tests/*.yaml), or one mapping on one sample.",
            discussion: "A failure prints a line-by-line diff of expected and actual output; the exit code is non-zero."
        )
        @Flag(help: "Run every golden test under --root.") var all = false
        @Option(help: "Folder searched by --all.") var root: String = "Mappings"
        @Argument(help: "Golden test files, or with --sample a mapping file.") var files: [String] = []
        @Option(help: "A message to run the mapping file on.") var sample: String?
        @Option(help: "Expected output (JSON) for --sample.") var expect: String?
        @Option(name: .customLong("header"), help: ArgumentHelp("A record header for --sample (repeatable).", valueName: "name=value"))
        var headers: [String] = []

        func validate() throws {
            if all {
                guard files.isEmpty, sample == nil else { throw ValidationError("--all takes no files and no --sample") }
            } else if sample != nil {
                guard files.count == 1 else { throw ValidationError("--sample needs exactly one mapping file") }
            } else if files.isEmpty {
                throw ValidationError("give --all, golden test files, or a mapping file with --sample")
            }
            if expect != nil && sample == nil { throw ValidationError("--expect needs --sample") }
        }

        func run() throws {
            let reports: [GoldenReport]
            if let sample {
                var values: [String: String] = [:]
                for header in headers {
                    guard let eq = header.firstIndex(of: "=") else { throw ValidationError("--header must be name=value") }
                    values[String(header[..<eq])] = String(header[header.index(after: eq)...])
                }
                reports = [GoldenTests.runSample(mappingFile: URL(fileURLWithPath: files[0]), sample: URL(fileURLWithPath: sample),
                                                 headers: values, expect: expect.map { URL(fileURLWithPath: $0) })]
            } else {
                let testFiles = all ? GoldenTests.discover(root: URL(fileURLWithPath: root)) : files.map { URL(fileURLWithPath: $0) }
                guard !testFiles.isEmpty else { throw CommandFailure("no golden test files found under \(root)") }
                reports = testFiles.map { GoldenTests.run(testFile: $0) }
            }
            for report in reports { print(report.rendered) }
            let failed = reports.filter { !$0.passed }
            let cases = reports.reduce(0) { $0 + $1.cases.count }
            print("\(reports.count - failed.count) of \(reports.count) test files passed (\(cases) cases)")
            if !failed.isEmpty { throw ExitCode.failure }
        }
    }

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what changed: two published versions, or the active version against a file.",
            discussion: "medbus mapping diff NAME 1 2   |   medbus mapping diff NAME Mappings/his/x.yaml"
        )
        @OptionGroup var store: StoreOptions
        @Argument(help: "Mapping name.") var name: String
        @Argument(help: "Two versions, or one mapping file.") var against: [String]

        func run() throws {
            let registry = try openRegistry(store)
            let old: MappingBundle, new: MappingBundle, labels: (String, String)
            switch against.count {
            case 1 where Int(against[0]) == nil:
                guard let active = try registry.active(name: name) else { throw CommandFailure("no published mapping named '\(name)'") }
                old = try decodeBundle(active)
                new = try loadBundle(against[0])
                labels = ("\(name)@\(active.version)", against[0])
            case 2:
                guard let v1 = Int(against[0]), let v2 = Int(against[1]) else { throw ValidationError("versions must be numbers") }
                let a = try requireVersion(registry, name, v1), b = try requireVersion(registry, name, v2)
                old = try decodeBundle(a)
                new = try decodeBundle(b)
                labels = ("\(name)@\(v1)", "\(name)@\(v2)")
            default:
                throw ValidationError("give two version numbers or one mapping file")
            }
            let text = bundleDiff(old, new, labels: labels)
            print(text.isEmpty ? "no differences" : text)
        }
    }

    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Publish a mapping file as a new immutable version and announce it to routers.")
        @OptionGroup var kafka: KafkaOptions
        @OptionGroup var store: StoreOptions
        @Argument(help: "Mapping file.") var file: String
        @Option(help: "Why this version exists (kept in the history).") var note: String
        @Option(help: "Who publishes (default: $USER).") var author: String?

        func run() async throws {
            let bundle = try loadBundle(file)
            do { _ = try Mapping.compile(bundle) } catch { throw CommandFailure("\(error)") }
            let registry = try openRegistry(store)
            let config = try kafka.config(store: store)
            let published: MappingVersion
            do {
                published = try registry.publish(name: bundle.name, content: try encodeBundle(bundle), author: author ?? operatorName, note: note)
            } catch {
                throw CommandFailure("\(error)")
            }
            try await announcePending(registry, config)
            print("published \(published.name)@\(published.version) (sha256 \(published.digest.prefix(12)))")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The active version of every published mapping.")
        @OptionGroup var store: StoreOptions

        func run() throws {
            print(["NAME", "VERSION", "PUBLISHED", "AUTHOR", "DIGEST", "NOTE"].joined(separator: "\t"))
            for version in try openRegistry(store).active() {
                print([version.name, "\(version.version)", timestamp(version.publishedAt), version.author, String(version.digest.prefix(12)), version.note].joined(separator: "\t"))
            }
        }
    }

    struct History: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every publish and rollback of one mapping, oldest first.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "Mapping name.") var name: String

        func run() throws {
            let entries = try openRegistry(store).history(name: name)
            guard !entries.isEmpty else { throw CommandFailure("no published mapping named '\(name)'") }
            print(["AT", "ACTION", "VERSION", "AUTHOR", "NOTE"].joined(separator: "\t"))
            for entry in entries {
                print([timestamp(entry.at), entry.action.rawValue, "\(entry.version)", entry.author, entry.note].joined(separator: "\t"))
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a published version (default: the active one) with its metadata.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "Mapping name.") var name: String
        @Option(help: "Version number.") var version: Int?

        func run() throws {
            let registry = try openRegistry(store)
            let shown: MappingVersion
            if let version {
                shown = try requireVersion(registry, name, version)
            } else {
                guard let active = try registry.active(name: name) else { throw CommandFailure("no published mapping named '\(name)'") }
                shown = active
            }
            let bundle = try decodeBundle(shown)
            print("# \(shown.name)@\(shown.version) published \(timestamp(shown.publishedAt)) by \(shown.author): \(shown.note)")
            print("# sha256 \(shown.digest); file \(bundle.mappingFile); references \(bundle.files.keys.sorted().joined(separator: ", "))")
            print(bundle.mappingText)
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make an earlier version active again and announce it to routers.")
        @OptionGroup var kafka: KafkaOptions
        @OptionGroup var store: StoreOptions
        @Argument(help: "Mapping name.") var name: String
        @Option(help: "The version to return to.") var to: Int
        @Option(help: "Why.") var note: String = "rollback"
        @Option(help: "Who (default: $USER).") var author: String?

        func run() async throws {
            let registry = try openRegistry(store)
            let config = try kafka.config(store: store)
            let restored: MappingVersion
            do {
                restored = try registry.rollback(name: name, to: to, author: author ?? operatorName, note: note)
            } catch {
                throw CommandFailure("\(error)")
            }
            try await announcePending(registry, config)
            print("\(restored.name) is at version \(restored.version) again")
        }
    }
}

// MARK: - Mapping bundles as the registry stores them

func loadBundle(_ path: String) throws -> MappingBundle {
    do {
        return try MappingBundle.load(mappingFile: URL(fileURLWithPath: path), displayPath: path)
    } catch {
        throw CommandFailure("\(error)")
    }
}

func encodeBundle(_ bundle: MappingBundle) throws -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return Array(try encoder.encode(bundle))
}

func decodeBundle(_ version: MappingVersion) throws -> MappingBundle {
    do {
        return try JSONDecoder().decode(MappingBundle.self, from: Data(version.content))
    } catch {
        throw CommandFailure("\(version.name)@\(version.version): stored content is not a mapping bundle (\(error))")
    }
}

func requireVersion(_ registry: MappingRegistry, _ name: String, _ number: Int) throws -> MappingVersion {
    guard let version = try registry.version(name: name, version: number) else { throw CommandFailure("\(name) has no version \(number)") }
    return version
}

/// The mapping file's diff, then each referenced file's that changed.
func bundleDiff(_ old: MappingBundle, _ new: MappingBundle, labels: (String, String)) -> String {
    var parts: [String] = []
    if old.mappingText != new.mappingText {
        parts.append(TextDiff.unified(old.mappingText, new.mappingText, labels: labels))
    }
    for file in Set(old.files.keys).union(new.files.keys).sorted() where old.files[file] != new.files[file] {
        parts.append(TextDiff.unified(old.files[file] ?? "", new.files[file] ?? "", labels: ("\(labels.0) \(file)", "\(labels.1) \(file)")))
    }
    return parts.joined(separator: "\n")
}
