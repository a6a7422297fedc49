import Foundation
import MedBusAdapterSDK
import MedBusCore
import MedBusDispatch
import MedBusKafka

/// What `medbus serve` runs for 120 dispatch besides the adapters: with at least one
/// `dispatch-120` manifest, the task timeline consumer (its database `<data-dir>/dispatch.sqlite`)
/// and the pre-arrival topics of the hospitals this installation knows (HIS adapters' senders and
/// `outbound.his.<hospital>` destinations), so the router and the hospitals can subscribe before
/// the first ambulance. A notice for another hospital creates its topic on first publish.
struct DispatchServe {
    /// Topics to create: one `dispatch.prearrival.<hospital>` per known hospital.
    let topics: [NewTopic]
    /// The timeline consumer, or nil without a dispatch adapter.
    let timeline: (@Sendable () async throws -> Void)?
    /// The task timelines the consumer keeps (for the admin API's views), nil without a dispatch adapter.
    let store: TimelineStore?

    /// The router consumes the notices too, to turn them into ADT^A05 (`Mappings/dispatch/`).
    static let routerInput = "^dispatch\\.prearrival\\..*"

    init(manifests: [AdapterManifest], destinationTopics: [String], dataDirectory: String, kafka: KafkaConfig) throws {
        let dispatch = manifests.filter { $0.kind == DispatchAdapter.kind }
        guard let first = dispatch.first else {
            topics = []
            timeline = nil
            store = nil
            return
        }
        let hospitals = Set(manifests.filter { $0.kind != DispatchAdapter.kind && $0.source.hasPrefix("his.") }.map(\.sender))
            .union(destinationTopics.filter { $0.hasPrefix("outbound.his.") }.map { String($0.dropFirst("outbound.his.".count)) })
        topics = try hospitals.sorted().map { NewTopic(name: try TopicName.dispatchPrearrival(hospital: $0), partitions: 6, replicationFactor: 3) }
        do {
            let signs = try VitalSigns.load(path: first.options["vitalSigns"] ?? DispatchAdapter.defaultVitalSigns)
            let store = try TimelineStore.open(directory: dataDirectory, vitalSigns: signs)
            let service = TimelineService(store: store, kafka: kafka, vitalSigns: signs, logger: Log.logger("medbus.dispatch.timeline"))
            timeline = { try await service.run() }
            self.store = store
        } catch {
            throw CommandFailure("\(first.file): \(error)")
        }
    }
}
