import Foundation
import NIOConcurrencyHelpers

/// A fault a simulator injects, for tests and demos of the failure paths.
///
/// Written as `[KEY:]ACTION[=ARG][@COUNT]`, the same on the command line (`--fault`) and in the
/// NHSA simulator's admin API (`POST /_faults {"faults": ["2207:error-after@1"]}`):
/// - KEY: which requests it applies to — an infno (`2207`) for the NHSA simulator, a request
///   `type` (`claim`, `reversal`) for the commercial one; none or `*` means every request.
/// - ACTION: `delay=MS` (answer after MS milliseconds), `drop` (no answer, nothing processed),
///   `drop-after` (processed and recorded, no answer), `decline[=REASON]` (a business refusal:
///   NHSA `infcode -2`, commercial `declined`), `error` (NHSA `infcode -1`, nothing processed),
///   `error-after` (NHSA `infcode -1` after the transaction was recorded — the outcome-unknown
///   case), `duplicate` (commercial: the reply is produced twice), `out-of-order` (commercial:
///   the reply is held back and produced after the next reply).
/// - COUNT: how many matching requests it hits before it is used up; none means every one.
public struct SimulatorFault: Sendable, Equatable, CustomStringConvertible {
    public enum Action: Sendable, Equatable {
        case delay(milliseconds: Int)
        case drop
        case dropAfter
        case decline(reason: String)
        case systemError
        case systemErrorAfter
        case duplicate
        case outOfOrder
    }

    public var key: String?
    public var action: Action
    public var remaining: Int?

    public init(key: String? = nil, action: Action, count: Int? = nil) {
        self.key = key
        self.action = action
        self.remaining = count
    }

    /// - Throws: `SimulatorFaultError` describing the expected syntax.
    public init(parsing text: String) throws {
        var body = Substring(text.trimmingCharacters(in: .whitespaces))
        if let at = body.lastIndex(of: "@") {
            guard let count = Int(body[body.index(after: at)...]), count > 0 else { throw SimulatorFaultError(text: text, reason: "@COUNT must be a positive integer") }
            remaining = count
            body = body[..<at]
        }
        var actionText = body
        if let colon = body.firstIndex(of: ":"), !body[..<colon].contains("=") {
            let key = String(body[..<colon])
            self.key = key == "*" || key.isEmpty ? nil : key
            actionText = body[body.index(after: colon)...]
        }
        let name: Substring
        let argument: String?
        if let equals = actionText.firstIndex(of: "=") {
            name = actionText[..<equals]
            argument = String(actionText[actionText.index(after: equals)...])
        } else {
            name = actionText
            argument = nil
        }
        switch name {
        case "delay":
            guard let ms = argument.flatMap(Int.init), ms >= 0 else { throw SimulatorFaultError(text: text, reason: "delay needs =MILLISECONDS") }
            action = .delay(milliseconds: ms)
        case "drop": action = .drop
        case "drop-after": action = .dropAfter
        case "decline": action = .decline(reason: argument ?? "declined (simulated)")
        case "error": action = .systemError
        case "error-after": action = .systemErrorAfter
        case "duplicate": action = .duplicate
        case "out-of-order": action = .outOfOrder
        default:
            throw SimulatorFaultError(text: text, reason: "unknown action '\(name)' (delay=MS, drop, drop-after, decline[=REASON], error, error-after, duplicate, out-of-order)")
        }
    }

    public var description: String {
        let action: String = switch self.action {
        case .delay(let ms): "delay=\(ms)"
        case .drop: "drop"
        case .dropAfter: "drop-after"
        case .decline(let reason): "decline=\(reason)"
        case .systemError: "error"
        case .systemErrorAfter: "error-after"
        case .duplicate: "duplicate"
        case .outOfOrder: "out-of-order"
        }
        return "\(key.map { "\($0):" } ?? "")\(action)\(remaining.map { "@\($0)" } ?? "")"
    }
}

public struct SimulatorFaultError: Error, CustomStringConvertible {
    public var text: String
    public var reason: String
    public var description: String { "fault '\(text)': \(reason); syntax [KEY:]ACTION[=ARG][@COUNT]" }
}

/// The faults in force, replaceable while the simulator runs; each matching request uses up one
/// count of the first fault that matches it.
public final class FaultPlan: Sendable {
    private let faults: NIOLockedValueBox<[SimulatorFault]>

    public init(_ faults: [SimulatorFault] = []) { self.faults = NIOLockedValueBox(faults) }

    public func replace(with faults: [SimulatorFault]) { self.faults.withLockedValue { $0 = faults } }

    public var current: [SimulatorFault] { faults.withLockedValue { $0 } }

    /// The action for a request with this key, consuming one count.
    public func take(for key: String) -> SimulatorFault.Action? {
        faults.withLockedValue { faults in
            guard let index = faults.firstIndex(where: { $0.key == nil || $0.key == key }) else { return nil }
            let action = faults[index].action
            if let remaining = faults[index].remaining {
                if remaining <= 1 { faults.remove(at: index) } else { faults[index].remaining = remaining - 1 }
            }
            return action
        }
    }
}
