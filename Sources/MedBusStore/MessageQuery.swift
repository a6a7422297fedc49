import Foundation
import GRDB
import MedBusSQLite

/// A search over stored messages. Every filter is optional and they combine with AND; results come newest
/// first by `receivedAt`. Each filter is an index lookup (see StoreSchema.swift).
public struct MessageQuery: Sendable, Equatable {
    public var id: String?
    public var source: String?
    public var type: String?
    public var status: MessageStatus?
    /// Earliest `receivedAt`, inclusive.
    public var from: Date?
    /// Latest `receivedAt`, exclusive, so consecutive windows never overlap.
    public var to: Date?
    /// Most rows a search returns; ignored by `count`.
    public var limit: Int

    public init(
        id: String? = nil,
        source: String? = nil,
        type: String? = nil,
        status: MessageStatus? = nil,
        from: Date? = nil,
        to: Date? = nil,
        limit: Int = 100
    ) {
        self.id = id
        self.source = source
        self.type = type
        self.status = status
        self.from = from
        self.to = to
        self.limit = limit
    }
}

extension MessageQuery {
    /// The SELECT behind `MessageStore.search`. The `rowid` tie-break keeps equal timestamps in a stable
    /// order and is free: every index ends in the rowid.
    var searchStatement: (sql: String, arguments: StatementArguments) {
        let (filter, arguments) = whereClause
        return (
            "SELECT \(MessageSummary.selection) FROM messages\(filter) ORDER BY received_at DESC, rowid DESC LIMIT ?",
            arguments + [max(0, limit)])
    }

    /// The SELECT behind `MessageStore.count`.
    var countStatement: (sql: String, arguments: StatementArguments) {
        let (filter, arguments) = whereClause
        return ("SELECT COUNT(*) FROM messages\(filter)", arguments)
    }

    private var whereClause: (sql: String, arguments: StatementArguments) {
        var conditions: [String] = []
        var arguments = StatementArguments()
        func add(_ condition: String, _ value: some DatabaseValueConvertible) {
            conditions.append(condition)
            arguments += [value]
        }
        if let id { add("id = ?", id) }
        if let source { add("source = ?", source) }
        if let type { add("type = ?", type) }
        if let status { add("status = ?", status.rawValue) }
        if let from { add("received_at >= ?", from.storedMicroseconds) }
        if let to { add("received_at < ?", to.storedMicroseconds) }
        return (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "), arguments)
    }
}
