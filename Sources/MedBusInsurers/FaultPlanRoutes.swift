import Hummingbird
import Logging
import MedBusCore
import NIOCore

extension FaultPlan {
    /// The simulators' fault admin API on `router`: `GET /_faults` lists the plan,
    /// `POST /_faults {"faults": ["[KEY:]ACTION[=ARG][@COUNT]", …]}` replaces it,
    /// `DELETE /_faults` clears it.
    public func addAdminRoutes(to router: Router<BasicRequestContext>, logger: Logger) {
        router.get("_faults") { _, _ in Self.json(.object([("faults", .array(self.current.map { .string($0.description) }))])) }
        router.delete("_faults") { _, _ in
            self.replace(with: [])
            return Self.json(.object([("faults", .array([]))]))
        }
        router.post("_faults") { request, _ in
            let body = try await request.body.collect(upTo: 64 << 10)
            do {
                guard let items = try JSONValue.parse(Array(buffer: body))["faults"]?.arrayValue else {
                    throw PlatformEnvelopeError("expected {\"faults\": [\"[KEY:]ACTION[=ARG][@COUNT]\", …]}")
                }
                let plan = try items.map { item in
                    guard let text = item.stringValue else { throw PlatformEnvelopeError("each fault is a string") }
                    return try SimulatorFault(parsing: text)
                }
                self.replace(with: plan)
                logger.info("faults replaced", metadata: ["faults": "\(plan.map(\.description))"])
                return Self.json(.object([("faults", .array(plan.map { .string($0.description) }))]))
            } catch {
                return Self.json(.object([("error", .string("\(error)"))]), status: .badRequest)
            }
        }
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: value.jsonBytes)))
    }
}
