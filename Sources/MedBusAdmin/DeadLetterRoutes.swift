import Foundation
import Hummingbird

/// `/v1/dlq` (list, `states`) and `POST /v1/dlq/{position}/replay` (`operate`), over `DeadLetterQueue`.
public struct DeadLetterRoutes: AdminRoutes {
    let queue: DeadLetterQueue

    public init(queue: DeadLetterQueue) { self.queue = queue }

    public func register(on api: AdminAPI) {
        api.get("dlq", requires: .states) { request, _, caller in
            let letters = try await unavailableIfKafkaFails { try await queue.list(try selection(request), withError: caller.role.allows(.patientData)) }
            return try AdminAPI.json(["deadLetters": letters])
        }
        api.post("dlq/{position}/replay", requires: .operate) { request, context, caller in
            let text = context.parameters.get("position") ?? ""
            guard let position = DeadLetterPosition(text) else { throw Problem.badRequest("'\(text)' is not a position PARTITION:OFFSET") }
            let result = try await unavailableIfKafkaFails {
                try await queue.replay(try selection(request), positions: [position], actor: caller.name, role: caller.role.rawValue)
            }
            if !result.notFound.isEmpty { throw Problem.notFound("no dead letter at \(position)") }
            return try AdminAPI.json(result)
        }
    }

    private func selection(_ request: Request) throws -> DeadLetterQueue.Selection {
        DeadLetterQueue.Selection(topic: request.uri.queryParameters.get("topic") ?? "dlq.routing",
                                  since: try AdminAPI.time(request, "since"), reason: request.uri.queryParameters.get("reason"))
    }

    private func unavailableIfKafkaFails<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let failure as DeadLetterQueue.Failure {
            throw Problem.unavailable("\(failure)")
        }
    }
}
