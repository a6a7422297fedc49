import Foundation
import Logging
import MedBusKafka

/// Everything of prescription circulation in one process, as `medbus serve` and `medbus rx serve` run it:
/// the service (outbox publisher, expiry sweeper), the HTTP API, the HIS intake from the canonical topic,
/// the Kafka commands and, when the manifest has a `centre:` block, the forwarder to the insurance
/// e-prescription centre. The topics must exist (`configuration.topics`, provisioned by the caller).
public final class RxServiceRunner: Sendable {
    public let service: PrescriptionService
    private let server: PharmacyAPIServer
    private let intake: PrescriptionIntake
    private let commands: RxCommandProcessor
    private let centre: PrescriptionCentreForwarder?

    /// - Throws: `RxProblem(.storeFailed)` when `<directory>/rx.sqlite` cannot be opened, `TLSError` for TLS files
    ///   that do not load, `RxCentreError` for a centre configuration that cannot work.
    public init(configuration: RxServiceConfiguration, directory: String, kafka: KafkaConfig, producer: KafkaProducer,
                clock: any RxClock = SystemRxClock(), logger: Logger = Logger(label: "medbus.rx")) throws {
        let service = try PrescriptionService(configuration: configuration, directory: directory, producer: producer, clock: clock, logger: logger)
        self.service = service
        server = try PharmacyAPIServer(service: service, host: configuration.host, port: configuration.port, tls: configuration.tls, logger: logger)
        intake = PrescriptionIntake(service: service, kafka: kafka, logger: logger)
        commands = RxCommandProcessor(service: service, kafka: kafka, logger: logger)
        centre = try configuration.centre.map { try PrescriptionCentreForwarder(link: $0, service: service, kafka: kafka, logger: logger) }
    }

    /// Runs until cancelled or until one part fails (such as the port being in use); `onBound` gets the HTTP port.
    /// On cancellation the HTTP server finishes the requests in flight; what was committed and not yet
    /// published is published by the next start.
    public func run(onBound: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        defer { service.close() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [server] in try await server.run(onBound: onBound) }
            group.addTask { [service] in try await service.run() }
            group.addTask { [intake] in try await intake.run() }
            group.addTask { [commands] in try await commands.run() }
            if let centre { group.addTask { try await centre.run() } }
            defer { group.cancelAll() }
            try await group.next()
        }
    }
}
