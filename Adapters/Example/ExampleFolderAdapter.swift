import Foundation
import MedBusAdapterSDK
import MedBusCore
import MedBusKafka
import MedBusStore

/// `medbus-adapter-example FOLDER BROKERS SENDER`: the vendor guide's adapter in 30 lines. Every
/// `*.txt` file dropped in FOLDER becomes one message on `raw.his.<SENDER>`; the file moves to
/// FOLDER/sent (its "ACK") only once the message is stored and on Kafka. The file name is the
/// sender's message id, so a file dropped again is answered from the store, not published twice.
@main
struct ExampleFolderAdapter {
    static func main() async throws {
        let (folder, brokers, sender) = (CommandLine.arguments[1], CommandLine.arguments[2], CommandLine.arguments[3])
        let files = FileManager.default
        try files.createDirectory(atPath: folder + "/sent", withIntermediateDirectories: true)
        let store = try MessageStore.open(directory: folder + "/.medbus")
        let ingest = DurableIngest(store: store, producer: try KafkaProducer(config: KafkaConfig(bootstrapServers: brokers)))
        let topic = try TopicName.rawHIS(hospital: sender)
        while true {
            for name in try files.contentsOfDirectory(atPath: folder).sorted() where name.hasSuffix(".txt") {
                let path = folder + "/" + name
                let payload = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
                let envelope = MessageEnvelope(source: "his.\(sender)", sourceMessageId: name, messageType: "example.note", contentType: "text/plain")
                switch await ingest.ingest(DurableIngest.Inbound(envelope: envelope, topic: topic, key: name, payload: payload)) {
                case .accepted, .duplicate:  // safe: acknowledge by moving the file away
                    try? files.removeItem(atPath: folder + "/sent/" + name)
                    try files.moveItem(atPath: path, toPath: folder + "/sent/" + name)
                case .notPublished, .notStored:  // not safe yet: the file stays and is tried again
                    break
                }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}
