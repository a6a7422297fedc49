// swift-tools-version:6.0
// libFuzzer target for MedBusHL7. Build and run it with scripts/fuzz-hl7.sh; the module's sources come
// in through the symlink Sources/MedBusHL7 -> ../../Sources/MedBusHL7, so nothing here depends on what
// the main package exports.
import PackageDescription

let package = Package(
    name: "MedBusFuzz",
    targets: [
        .target(name: "MedBusHL7"),
        .executableTarget(name: "HL7Fuzz", dependencies: ["MedBusHL7"]),
    ],
    swiftLanguageModes: [.v6]
)
