import Foundation

/// A scriptable HL7 v2 receiver over MLLP (plain sockets, own threads), standing in for a
/// hospital system. It deduplicates by MSH-10 the way a real receiver should: a message it has
/// accepted before is acknowledged `AA` again but not counted twice.
///
/// Test messages carry the record key in PID-3 and a per-key sequence number in `ZSQ-1`; the
/// receiver records, per key, the sequence numbers in the order it first accepted them.
final class TestMLLPReceiver: @unchecked Sendable {
    enum Action: Sendable, Equatable {
        /// Process and answer `AA`.
        case accept
        /// Answer `AE` (not processed).
        case error
        /// Answer `AR` (not processed).
        case reject
        /// Never answer; `process` says whether the message was nevertheless taken in.
        case silent(process: Bool)
        /// Close the connection without processing the message (as if it never arrived).
        case dropBeforeReading
        /// Read the message (processing it when asked), then close without an ACK.
        case dropAfterReading(process: Bool)
        /// Process, but answer `AA` naming another control id.
        case wrongControlID
    }

    /// Decides per receipt: the control id and how often it was received before (0 = first time).
    typealias Script = @Sendable (_ controlID: String, _ previousReceipts: Int) -> Action

    private let server: SocketServer
    private let lock = NSLock()
    private let script: Script
    private var acceptedIDs: Set<String> = []
    private var order: [String] = []
    private var perKey: [String: [Int]] = [:]
    private var receiptsByID: [String: Int] = [:]
    private var duplicateCount = 0
    private var actions: [String: Int] = [:]
    private var connectionCount = 0

    var port: Int { server.port }

    /// Processing time per message, to make a stream last long enough to interrupt.
    private let latency: TimeInterval

    init(port: Int = 0, latency: TimeInterval = 0, script: @escaping Script = { _, _ in .accept }) throws {
        self.script = script
        self.latency = latency
        // `self` is captured only after the server exists; route through a box.
        let box = HandlerBox()
        server = try SocketServer(port: port) { connection in box.receiver?.serve(connection) }
        box.receiver = self
    }

    func stop() { server.stop() }

    /// Control ids accepted, in first-acceptance order.
    var accepted: [String] { lock.withLock { order } }
    /// Per key, the `ZSQ-1` sequence numbers in first-acceptance order.
    var acceptedSequences: [String: [Int]] { lock.withLock { perKey } }
    /// Messages accepted again and answered `AA` without being counted.
    var duplicates: Int { lock.withLock { duplicateCount } }
    var totalReceipts: Int { lock.withLock { receiptsByID.values.reduce(0, +) } }
    var connections: Int { lock.withLock { connectionCount } }
    /// How often each scripted action was taken.
    var actionCounts: [String: Int] { lock.withLock { actions } }

    private func serve(_ connection: SocketConnection) {
        lock.withLock { connectionCount += 1 }
        while true {
            guard connection.waitForData() else { return }
            guard let frame = connection.readFrame() else { return }
            let fields = Self.fields(of: frame)
            let controlID = fields.controlID
            let (action, _) = lock.withLock { () -> (Action, Int) in
                let seen = receiptsByID[controlID, default: 0]
                receiptsByID[controlID] = seen + 1
                let action = script(controlID, seen)
                actions["\(action)", default: 0] += 1
                return (action, seen)
            }
            if latency > 0 { Thread.sleep(forTimeInterval: latency) }
            switch action {
            case .accept:
                let duplicate = process(controlID: controlID, key: fields.key, sequence: fields.sequence)
                connection.write(Self.frame(Self.ack("AA", controlID: controlID, text: duplicate ? "duplicate of an accepted message; not processed again" : "accepted")))
            case .error:
                connection.write(Self.frame(Self.ack("AE", controlID: controlID, text: "temporary application error")))
            case .reject:
                connection.write(Self.frame(Self.ack("AR", controlID: controlID, text: "rejected")))
            case .silent(let processIt):
                if processIt { process(controlID: controlID, key: fields.key, sequence: fields.sequence) }
            case .dropBeforeReading:
                return
            case .dropAfterReading(let processIt):
                if processIt { process(controlID: controlID, key: fields.key, sequence: fields.sequence) }
                return
            case .wrongControlID:
                process(controlID: controlID, key: fields.key, sequence: fields.sequence)
                connection.write(Self.frame(Self.ack("AA", controlID: "NOT-\(controlID)", text: "accepted")))
            }
        }
    }

    /// Takes the message in unless it was before; returns true for a duplicate.
    @discardableResult
    private func process(controlID: String, key: String, sequence: Int) -> Bool {
        lock.withLock {
            guard acceptedIDs.insert(controlID).inserted else {
                duplicateCount += 1
                return true
            }
            order.append(controlID)
            perKey[key, default: []].append(sequence)
            return false
        }
    }

    /// MSH-10, PID-3 and ZSQ-1, read by plain splitting (independent of MedBusHL7).
    static func fields(of message: [UInt8]) -> (controlID: String, key: String, sequence: Int) {
        let text = String(decoding: message, as: UTF8.self)
        var controlID = "", key = "", sequence = -1
        for segment in text.split(whereSeparator: { $0 == "\r" || $0 == "\n" }) {
            let fields = segment.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            switch fields.first {
            case "MSH" where fields.count > 9: controlID = fields[9]
            case "PID" where fields.count > 3: key = fields[3].split(separator: "^").first.map(String.init) ?? ""
            case "ZSQ" where fields.count > 1: sequence = Int(fields[1]) ?? -1
            default: break
            }
        }
        return (controlID, key, sequence)
    }

    static func ack(_ code: String, controlID: String, text: String) -> String {
        "MSH|^~\\&|EDHIS|H37010200001|MEDBUS|MEDBUS|20250101120000||ACK^A01^ACK|ACK\(controlID)|P|2.5\rMSA|\(code)|\(controlID)|\(text)\r"
    }

    static func frame(_ text: String) -> [UInt8] { [0x0B] + Array(text.utf8) + [0x1C, 0x0D] }

    private final class HandlerBox: @unchecked Sendable {
        weak var receiver: TestMLLPReceiver?
    }
}

/// Deterministic pseudo-randomness from a seed and a string: the same decision for the same
/// message and receipt whatever order lanes happen to run in.
func seededUnit(_ seed: UInt64, _ text: String, _ n: Int) -> Double {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
    for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash = hash &* 0x100_0000_01b3
    }
    // SplitMix64 finaliser over the hash and the receipt number.
    var z = hash &+ UInt64(n) &* 0x9e37_79b9_7f4a_7c15
    z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
    z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
    z ^= z >> 31
    return Double(z >> 11) / Double(1 << 53)
}
