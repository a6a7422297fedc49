import Foundation
import MedBusAdapterSDK
import MedBusHTTPAdapter
import XCTest

/// The example an operator copies, `Adapters/HTTP/manifests/http-h37010200001.yaml`, stays loadable.
final class ExampleManifestTests: XCTestCase {
    func testExampleManifestLoads() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let manifest = try AdapterManifest.load(path: root.appendingPathComponent("Adapters/HTTP/manifests/http-h37010200001.yaml").path)
        XCTAssertEqual(manifest.kind, HTTPHISAdapter.kind)
        XCTAssertEqual(manifest.source, "his.H37010200001")
        XCTAssertEqual(try manifest.rawTopic, "raw.his.H37010200001")
        XCTAssertEqual(manifest.port, 8090)
        XCTAssertEqual(try manifest.intOption("maxBodyBytes", default: 0), 4 << 20)
    }
}
