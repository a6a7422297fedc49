import Foundation
import MedBusTestSupport

/// A throwaway PostgreSQL server from Debian's `postgresql` package: `initdb` into a temporary
/// directory, `pg_ctl start` on a free loopback port, trust authentication for the `medbus` role.
/// PostgreSQL refuses to run as root, so as root (CI) it runs as the `postgres` user via `runuser`.
final class PostgresTestServer: @unchecked Sendable {
    static let binaries = "/usr/lib/postgresql/15/bin"
    static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: "\(binaries)/initdb") }

    let directory: String
    let port: Int
    var conninfo: String { "postgresql://medbus@127.0.0.1:\(port)/postgres" }

    init() throws {
        directory = NSTemporaryDirectory() + "medbus-pg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        port = Int.random(in: 20_000..<60_000)
        if getuid() == 0 { _ = try runTool("/bin/chown", ["postgres:postgres", directory]) }
        try Self.asServerUser("\(Self.binaries)/initdb", ["-D", "\(directory)/data", "-A", "trust", "-U", "medbus", "--no-sync", "-E", "UTF8"])
        try Self.asServerUser("\(Self.binaries)/pg_ctl", [
            "-D", "\(directory)/data", "-l", "\(directory)/server.log", "-w", "start",
            "-o", "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50",
        ])
    }

    /// Runs SQL with `psql` (an independent client) and returns its unaligned, tuples-only output.
    @discardableResult
    func psql(_ sql: String) throws -> String {
        try runTool("/usr/bin/psql", ["-h", "127.0.0.1", "-p", "\(port)", "-U", "medbus", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql])
    }

    /// Starts `psql -f file` without waiting.
    func psqlFile(_ path: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        process.arguments = ["-h", "127.0.0.1", "-p", "\(port)", "-U", "medbus", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-f", path]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return process
    }

    func stop() {
        try? Self.asServerUser("\(Self.binaries)/pg_ctl", ["-D", "\(directory)/data", "-m", "immediate", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs a server tool as the `postgres` user when we are root, with posix_spawn and waitpid:
    /// Foundation's `Process` learns of an exit through a descriptor the child inherits, and the
    /// server pg_ctl leaves running would keep that descriptor (and any pipe) open forever.
    private static func asServerUser(_ tool: String, _ arguments: [String]) throws {
        let argv = (getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--", tool] : [tool]) + arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd in [STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO] {
            posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == STDIN_FILENO ? O_RDONLY : O_WRONLY, 0)
        }
        let cStrings = argv.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = (cStrings + [nil]).withUnsafeBufferPointer { posix_spawn(&pid, argv[0], &actions, nil, $0.baseAddress!, environ) }
        guard spawned == 0 else { throw TestFailure(description: "cannot start \(tool): errno \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        guard status == 0 else { throw TestFailure(description: "\(tool) \(arguments.first ?? "") exited with status \(status)") }
    }
}
