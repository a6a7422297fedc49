import Hummingbird
import Logging
import MedBusTLS
import ServiceLifecycle

/// One HTTP listener (Hummingbird) that its owner starts and stops: `run()` serves until
/// `shutdown()`. Every MedBus HTTP endpoint — adapters, APIs, simulators — runs on it, so they
/// share TLS and graceful shutdown.
///
/// No signal handling here: the process (`medbus serve`, an adapter process) owns its signals
/// and calls `shutdown()`. Shutdown is ServiceLifecycle's graceful shutdown: the listener
/// closes, requests in flight are answered, then `run` returns. A shutdown requested before
/// `run` starts makes `run` return at once; cancelling the task that runs it instead cancels
/// the requests in flight.
public final class HTTPListener<Context: RequestContext>: Sendable where Context.Source == ApplicationRequestContextSource {
    public let host: String
    public let port: Int
    private let responder: RouterResponder<Context>
    private let tls: TLSContext?
    private let serverName: String
    private let logger: Logger
    private let shutdownRequests: AsyncStream<Void>
    private let shutdownTrigger: AsyncStream<Void>.Continuation

    /// - Parameters:
    ///   - tls: TLS (and mutual TLS) for every connection; `nil` is plain HTTP.
    ///   - serverName: the `Server` header.
    public init(router: Router<Context>, host: String, port: Int, tls: TLSContext? = nil, serverName: String = "MedBus", logger: Logger) {
        self.host = host
        self.port = port
        self.responder = router.buildResponder()
        self.tls = tls
        self.serverName = serverName
        self.logger = logger
        (shutdownRequests, shutdownTrigger) = AsyncStream.makeStream(of: Void.self)
    }

    /// Serves until `shutdown()`. `onBound` receives the listening port (useful with port 0).
    /// - Throws: when the address cannot be bound or the server fails.
    public func run(onBound: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let app = Application(
            responder: responder,
            server: .http1(tls: tls),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: serverName),
            onServerRunning: { channel in onBound(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [app], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { [shutdownRequests] in
                for await _ in shutdownRequests {}
                // The stream ends when shutdown() finished it, or when the server stopped on its
                // own and this task was cancelled: only the first asks for a graceful shutdown.
                if !Task.isCancelled { await group.triggerGracefulShutdown() }
            }
            defer { tasks.cancelAll() }
            do { try await group.run() } catch let error as ServiceGroupError where error == .alreadyFinished() {
                return  // shut down before it started
            }
        }
    }

    /// Starts a graceful shutdown; `run` returns once requests in flight are answered.
    public func shutdown() { shutdownTrigger.finish() }
}
