import Foundation

/// The folders operators keep manifests in (`Adapters/<Kind>/manifests/` for adapters, `Adapters/destinations/`
/// for outbound destinations) follow one rule: one YAML file per component, read in file-name order, names unique. It lives
/// here once so the two folders cannot drift apart.
public enum ManifestFolder {
    /// Loads every `*.yaml` / `*.yml` file in `directory`, sorted by file name, with `load(path)`. A missing or
    /// unreadable folder holds no manifests.
    ///
    /// - Parameters:
    ///   - kind: what the manifests describe, for the duplicate-name error ("adapter", "destination").
    ///   - name: a manifest's name, unique within the folder: it names the component in logs and metrics.
    /// - Throws: whatever `load` throws for the first file that fails; `ManifestError` on the second file that
    ///   uses a name already taken ("<kind> name '<name>' also used in <first file>").
    public static func loadAll<Manifest>(
        directory: String,
        kind: String,
        name: (Manifest) -> String,
        load: (_ path: String) throws -> Manifest
    ) throws -> [Manifest] {
        try loadAll(directories: [directory], kind: kind, name: name, load: load)
    }

    /// The same for several folders, folder by folder; names are unique across all of them.
    public static func loadAll<Manifest>(
        directories: [String],
        kind: String,
        name: (Manifest) -> String,
        load: (_ path: String) throws -> Manifest
    ) throws -> [Manifest] {
        let paths = directories.flatMap { directory in
            ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
                .map { (directory as NSString).appendingPathComponent($0) }
        }
        // Every file is loaded before names are compared, so a broken file is reported before a duplicate.
        let manifests = try paths.map(load)
        var seen: [String: String] = [:]
        for (path, manifest) in zip(paths, manifests) {
            if let other = seen[name(manifest)] {
                throw ManifestError(file: path, message: "\(kind) name '\(name(manifest))' also used in \(other)")
            }
            seen[name(manifest)] = path
        }
        return manifests
    }
}
