import Foundation

/// Reading a prescription store (`<data-dir>/rx.sqlite`): for operators' tools (`medbus rx show|list`), also
/// while a service runs on the same folder (WAL readers do not block the writer).
public struct RxLedger: Sendable {
    let store: RxStore

    init(store: RxStore) {
        self.store = store
    }

    /// Opens the store of `directory`.
    /// - Throws: `RxProblem(.storeFailed)` naming the file.
    public init(directory: String) throws(RxProblem) {
        store = try RxStore.open(directory: directory)
    }

    public func close() { store.close() }

    public func record(_ lookup: PrescriptionService.Lookup) async throws(RxProblem) -> RxRecord? {
        try await store.load(lookup.store)
    }

    /// Newest first, optionally one status only, one hospital, created in [from, to); `offset` rows skipped (paging).
    public func list(status: RxStatus?, hospital: String? = nil, createdFrom from: Date? = nil, to: Date? = nil,
                     limit: Int, offset: Int = 0) async throws(RxProblem) -> [RxRecord] {
        try await store.list(status: status, hospital: hospital, createdFrom: from, to: to, limit: limit, offset: offset)
    }

    /// One prescription's transitions, oldest first.
    public func history(id: String) async throws(RxProblem) -> [RxTransition] {
        try await store.transitions(id: id)
    }
}
