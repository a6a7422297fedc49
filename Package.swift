// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "MedBus",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "medbus", targets: ["medbus"]),
        .library(name: "MedBusKafka", targets: ["MedBusKafka"]),
        .library(name: "MedBusCore", targets: ["MedBusCore"]),
        .library(name: "MedBusStore", targets: ["MedBusStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    ],
    targets: [
        // librdkafka 2.x from Debian (`librdkafka-dev`): client API and the mock cluster API.
        .systemLibrary(
            name: "CRdKafka",
            path: "Sources/CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        // The Kafka layer: producer, consumer, transactions, admin, embedded cluster.
        .target(
            name: "MedBusKafka",
            dependencies: ["CRdKafka", .product(name: "Logging", package: "swift-log"), .product(name: "CoreMetrics", package: "swift-metrics")]
        ),
        // The message envelope, topic naming and topic specifications, and the values every module shares: exact money, number-preserving JSON, SHA-256.
        .target(
            name: "MedBusCore",
            dependencies: ["MedBusKafka", .product(name: "Yams", package: "Yams")]
        ),
        // What the SQLite-backed modules share: opening a durable WAL database, microsecond timestamps.
        .target(
            name: "MedBusSQLite",
            dependencies: [.product(name: "GRDB", package: "GRDB.swift")]
        ),
        // The durable SQLite store: message inbox/outbox, search, retention.
        .target(
            name: "MedBusStore",
            dependencies: ["MedBusSQLite", "MedBusCrypto", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // The adapter contract: store, publish with acks=all, then acknowledge; duplicates answered from the store.
        .target(
            name: "MedBusAdapterSDK",
            dependencies: [
                "MedBusCore", "MedBusKafka", "MedBusStore", "MedBusTLS", .product(name: "Logging", package: "swift-log"), .product(name: "Yams", package: "Yams"),
                .product(name: "CoreMetrics", package: "swift-metrics"), .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // OpenSSL 3 from Debian (`libssl-dev`): TLS, and the national algorithms SM2/SM3/SM4.
        .systemLibrary(
            name: "COpenSSL",
            path: "Sources/COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        // The national algorithms (SM2 signatures, SM3, SM4) and authenticated encryption of payloads at rest (PayloadKeyring), over OpenSSL 3.
        .target(name: "MedBusCrypto", dependencies: ["COpenSSL"]),
        // TLS and mutual TLS for SwiftNIO servers over OpenSSL (memory BIOs).
        .target(
            name: "MedBusTLS",
            dependencies: ["COpenSSL", "MedBusCrypto", .product(name: "NIOCore", package: "swift-nio"), .product(name: "Logging", package: "swift-log")]
        ),
        // MLLP over TCP (SwiftNIO): framing, connections, idle timeout, graceful shutdown.
        .target(
            name: "MedBusMLLP",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                "MedBusTLS",
            ]
        ),
        // HL7 v2: parsing, terser paths, serialization, acknowledgements.
        .target(name: "MedBusHL7"),
        // The HIS adapters: HL7 v2 over MLLP (and later HTTP HL7 v3 / FHIR) onto raw.his.<hospital>.
        .target(
            name: "MedBusHISAdapter",
            dependencies: ["MedBusHL7", "MedBusMLLP", "MedBusTLS", "MedBusAdapterSDK", "MedBusCore", .product(name: "Logging", package: "swift-log")]
        ),
        // What every MedBus HTTP listener (Hummingbird) shares: TLS and mutual TLS from MedBusTLS, the caller's certificate identity.
        .target(
            name: "MedBusHTTPServer",
            dependencies: [
                "MedBusTLS",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The HIS adapter over HTTP (Hummingbird): FHIR R4 JSON and HL7 v3 XML interactions.
        .target(
            name: "MedBusHTTPAdapter",
            dependencies: [
                "MedBusAdapterSDK", "MedBusCore", "MedBusHL7", "MedBusHTTPServer", "MedBusTLS",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Mapping files: compiled once into plans that turn HL7 v2 / v3 XML / JSON into canonical JSON or HL7 v2.
        .target(
            name: "MedBusMapping",
            dependencies: ["MedBusHL7", "MedBusCore", .product(name: "Yams", package: "Yams")]
        ),
        // The mapping registry: immutable mapping versions and the audit log in SQLite, distribution over medbus.mappings.
        .target(
            name: "MedBusRegistry",
            dependencies: ["MedBusKafka", "MedBusCore", "MedBusSQLite", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log")]
        ),
        // The routing core: consume raw.* → route → produce outputs and offsets in one Kafka transaction; dead letters.
        .target(
            name: "MedBusRouting",
            dependencies: ["MedBusKafka", "MedBusCore", .product(name: "Logging", package: "swift-log"), .product(name: "CoreMetrics", package: "swift-metrics")]
        ),
        // Outbound destinations: deliver a topic to an MLLP receiver or an HTTP endpoint, in per-key order, with retries.
        .target(
            name: "MedBusOutbound",
            dependencies: [
                "MedBusKafka", "MedBusCore", "MedBusHL7", "MedBusMLLP", "MedBusAdapterSDK", "MedBusHTTPClient", "MedBusTLS",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // 120 dispatch: the CAD adapter (TCP lines + HTTP), task timelines in SQLite, pre-arrival notices.
        .target(
            name: "MedBusDispatch",
            dependencies: [
                "MedBusAdapterSDK", "MedBusCore", "MedBusKafka", "MedBusStore", "MedBusSQLite", "MedBusTLS", "MedBusHTTPServer",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // One-stop settlement: a durable saga over Kafka (saga log in SQLite), results and claims.
        // The HTTP/1.1 client (SwiftNIO) for calls out: outbound destinations, insurance platforms.
        .target(
            name: "MedBusHTTPClient",
            dependencies: [
                "MedBusTLS",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "MedBusSettlement",
            dependencies: ["MedBusKafka", "MedBusCore", "MedBusSQLite", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log"), .product(name: "CoreMetrics", package: "swift-metrics")]
        ),
        // The settlement HTTP API (Hummingbird): POST /v1/settlements, status, cancel, reconciliation; problem+json errors.
        .target(
            name: "MedBusSettlementAPI",
            dependencies: ["MedBusSettlement", "MedBusCore", "MedBusHTTPServer", "MedBusTLS", .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log")]
        ),
        // The insurance e-prescription centre: the SM4/SM2 envelope and the hospital-side client (upload pre-check, upload, revoke).
        .target(name: "MedBusRxCentre", dependencies: ["MedBusCrypto", "MedBusCore", "MedBusHTTPClient", "MedBusTLS"]),
        // E-prescription circulation: issue (SM3/SM2-signed), pharmacy API (HTTP with mTLS callers, Kafka commands), lifecycle in SQLite, forwarding to the insurance prescription centre.
        .target(
            name: "MedBusPrescription",
            dependencies: [
                "MedBusKafka", "MedBusCore", "MedBusSQLite", "MedBusCrypto", "MedBusHTTPServer", "MedBusTLS", "MedBusRxCentre",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "Logging", package: "swift-log"), .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The reference insurers (NHSA platform and commercial simulators, policy engine) and the NHSA insurer adapter.
        .target(
            name: "MedBusInsurers",
            dependencies: [
                "MedBusKafka", "MedBusCore", "MedBusHTTPClient", "MedBusHTTPServer", "MedBusCrypto", "MedBusRxCentre", "MedBusTLS",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"), .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The admin API (Hummingbird): health, readiness, Prometheus metrics, message search, mappings, DLQ replay, audit log; API tokens with roles.
        .target(
            name: "MedBusAdmin",
            dependencies: [
                "MedBusKafka", "MedBusCore", "MedBusSQLite", "MedBusStore", "MedBusRegistry", "MedBusRouting",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"), .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Metrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The admin API's operator views of components: settlements, prescriptions, 120 dispatch tasks (read only, identifiers masked by role).
        .target(
            name: "MedBusAdminViews",
            dependencies: ["MedBusAdmin", "MedBusCore", "MedBusSettlement", "MedBusPrescription", "MedBusDispatch", .product(name: "Hummingbird", package: "hummingbird")]
        ),
        // libpq from Debian (`libpq-dev`): the PostgreSQL client the intermediate-table adapter polls with.
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // The intermediate-table adapter: polls a HIS table or view (PostgreSQL, SQLite) and publishes each row once.
        .target(
            name: "MedBusTableAdapter",
            dependencies: [
                "CLibPQ", "MedBusAdapterSDK", "MedBusCore", "MedBusKafka", "MedBusSQLite",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The intermediate-table adapter as its own process (Adapters/IntermediateTable).
        .executableTarget(
            name: "medbus-adapter-table",
            dependencies: ["MedBusTableAdapter", "MedBusAdapterSDK", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Adapters/IntermediateTable",
            exclude: ["README.md", "manifests"]
        ),
        // The SOAP/WebService HIS adapter: SOAP 1.1/1.2 with HL7 v3 in the Body, WSDL, faults, WS-Security UsernameToken.
        .target(
            name: "MedBusSOAPAdapter",
            dependencies: [
                "MedBusAdapterSDK", "MedBusCore", "MedBusHL7", "MedBusHTTPServer", "MedBusTLS", "COpenSSL",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The SOAP adapter as its own process (Adapters/WebService).
        .executableTarget(
            name: "medbus-adapter-soap",
            dependencies: ["MedBusSOAPAdapter", "MedBusAdapterSDK", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Adapters/WebService",
            exclude: ["README.md", "manifests", "samples"]
        ),
        // The HIS and 120 adapters each as its own process (Adapters/<Kind>/: executable, manifests, README).
        .executableTarget(name: "medbus-adapter-mllp", dependencies: ["MedBusHISAdapter", "MedBusAdapterSDK", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Adapters/HL7MLLP", exclude: ["README.md", "manifests"]),
        .executableTarget(name: "medbus-adapter-http", dependencies: ["MedBusHTTPAdapter", "MedBusAdapterSDK", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Adapters/HTTP", exclude: ["README.md", "manifests"]),
        .executableTarget(name: "medbus-adapter-file", dependencies: ["MedBusHISAdapter", "MedBusAdapterSDK", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Adapters/HL7File", exclude: ["README.md", "manifests"]),
        .executableTarget(name: "medbus-adapter-dispatch", dependencies: ["MedBusDispatch", "MedBusAdapterSDK", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Adapters/Dispatch120", exclude: ["README.md", "manifests"]),
        // The vendor guide's "adapter in 30 lines" (Adapters/README.md), compiled so it cannot rot.
        .executableTarget(name: "medbus-adapter-example", dependencies: ["MedBusAdapterSDK", "MedBusCore", "MedBusKafka", "MedBusStore"], path: "Adapters/Example"),
        // Baseline for benchmarks: a plain C librdkafka producer, no Swift in the loop.
        .target(name: "CRawProducer", dependencies: ["CRdKafka"]),
        .executableTarget(
            name: "medbus",
            dependencies: [
                "MedBusKafka", "MedBusCore", "MedBusStore", "MedBusAdapterSDK", "MedBusHISAdapter", "MedBusHTTPAdapter", "MedBusHL7", "MedBusMapping", "MedBusRegistry", "MedBusRouting", "MedBusOutbound", "MedBusInsurers", "MedBusCrypto", "MedBusRxCentre", "MedBusSettlement", "MedBusSettlementAPI", "MedBusHTTPClient", "MedBusAdmin", "MedBusAdminViews", "MedBusTableAdapter", "MedBusSOAPAdapter", "MedBusDispatch", "MedBusPrescription", "CRawProducer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Helpers shared by test targets: an MLLP client independent of NIO, running other tools.
        .target(name: "MedBusTestSupport", path: "Tests/Support"),
        .testTarget(name: "MedBusKafkaTests", dependencies: ["MedBusKafka", "MedBusTestSupport"]),
        .testTarget(name: "MedBusCoreTests", dependencies: ["MedBusCore", "MedBusKafka"]),
        .testTarget(name: "MedBusSQLiteTests", dependencies: ["MedBusSQLite", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "MedBusStoreTests", dependencies: ["MedBusStore", "MedBusCrypto", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "MedBusCryptoTests", dependencies: ["MedBusCrypto", "MedBusTestSupport"]),
        .testTarget(name: "MedBusAdapterSDKTests", dependencies: ["MedBusAdapterSDK"]),
        .testTarget(name: "MedBusMLLPTests", dependencies: ["MedBusMLLP", "MedBusTestSupport", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]),
        .testTarget(name: "MedBusHL7Tests", dependencies: ["MedBusHL7"]),
        .testTarget(
            name: "MedBusTLSTests",
            dependencies: [
                "MedBusTLS", "MedBusMLLP", "MedBusTestSupport", "MedBusHISAdapter", "MedBusHTTPAdapter", "MedBusAdapterSDK", "MedBusKafka", "MedBusStore",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "MedBusHISAdapterTests", dependencies: ["MedBusHISAdapter", "MedBusTestSupport", "MedBusAdapterSDK", "MedBusCore", "MedBusKafka", "MedBusStore"]),
        .testTarget(
            name: "MedBusHTTPAdapterTests",
            dependencies: [
                "MedBusHTTPAdapter", "MedBusAdapterSDK", "MedBusKafka", "MedBusStore", "MedBusCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(name: "MedBusMappingTests", dependencies: ["MedBusMapping", "MedBusHL7", "MedBusCore"]),
        .testTarget(name: "MedBusRegistryTests", dependencies: ["MedBusRegistry", "MedBusKafka"]),
        .testTarget(name: "MedBusRoutingTests", dependencies: ["MedBusRouting", "MedBusKafka", "MedBusCore", .product(name: "Logging", package: "swift-log")]),
        // Outbound TLS (MedBusTLS's client side) end to end: MLLP destinations, HTTPS, the NHSA adapter, Python's ssl.
        .testTarget(
            name: "MedBusTLSClientTests",
            dependencies: [
                "MedBusTLS", "MedBusHTTPClient", "MedBusOutbound", "MedBusMLLP", "MedBusInsurers", "MedBusKafka", "MedBusHL7", "MedBusCore",
                "MedBusTestSupport", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "MedBusOutboundTests", dependencies: ["MedBusOutbound", "MedBusKafka", "MedBusHL7", "MedBusAdapterSDK", "MedBusTestSupport"]),
        .testTarget(
            name: "MedBusDispatchTests",
            dependencies: [
                "MedBusDispatch", "MedBusAdapterSDK", "MedBusKafka", "MedBusStore", "MedBusCore", "MedBusRouting", "MedBusMapping",
                "MedBusOutbound", "MedBusMLLP", "MedBusHL7", .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "MedBusSettlementTests", dependencies: ["MedBusSettlement", "MedBusInsurers", "MedBusKafka", "MedBusCore", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "MedBusSettlementAPITests", dependencies: ["MedBusSettlementAPI", "MedBusSettlement", "MedBusInsurers", "MedBusKafka", "MedBusCore", "MedBusHTTPClient", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "MedBusRxCentreTests", dependencies: ["MedBusRxCentre", "MedBusInsurers", "MedBusCrypto", "MedBusCore", "MedBusHTTPClient", "MedBusTestSupport", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "MedBusInsurersTests", dependencies: ["MedBusInsurers", "MedBusKafka", "MedBusCore", .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "MedBusPrescriptionTests", dependencies: ["MedBusPrescription", "MedBusTestSupport", "MedBusKafka", "MedBusCore", "MedBusCrypto", "MedBusRxCentre", "MedBusInsurers", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "MedBusCLITests", dependencies: ["MedBusKafka", "MedBusCore", "MedBusStore", "MedBusTestSupport"]),
        .testTarget(
            name: "MedBusSOAPAdapterTests",
            dependencies: ["MedBusSOAPAdapter", "MedBusHTTPAdapter", "MedBusAdapterSDK", "MedBusKafka", "MedBusStore", "MedBusCore", "MedBusMapping", "MedBusTestSupport"]
        ),
        .testTarget(name: "MedBusAdapterExampleTests", dependencies: ["MedBusKafka", "MedBusCore"]),
        .testTarget(name: "MedBusTableAdapterTests", dependencies: ["MedBusTableAdapter", "MedBusAdapterSDK", "MedBusKafka", "MedBusStore", "MedBusCore", "MedBusTestSupport", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(
            name: "MedBusAdminTests",
            dependencies: [
                "MedBusAdmin", "MedBusAdminViews", "MedBusKafka", "MedBusCore", "MedBusStore", "MedBusRegistry", "MedBusRouting", "MedBusAdapterSDK", "MedBusTestSupport",
                "MedBusSettlement", "MedBusPrescription", "MedBusDispatch",
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Metrics", package: "swift-metrics"), .product(name: "Yams", package: "Yams"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
