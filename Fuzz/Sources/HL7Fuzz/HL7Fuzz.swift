import MedBusHL7

/// One fuzz input: parse it, walk every element, serialize, write, acknowledge; split it as a batch; use
/// its start as a terser path. Invariants that must hold for any input are checked with `precondition`,
/// so libFuzzer reports a violation as a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let acks = HL7AckBuilder(makeControlID: { "FUZZ" })
    do {
        let message = try HL7Message(parsing: bytes)
        walk(message)
        checkRoundTrips(message, input: bytes)
        checkWrite(message, text: String(decoding: bytes.prefix(48), as: UTF8.self))
        for issues in [[], [HL7Issue(code: .requiredFieldMissing, location: HL7ErrorLocation(segmentID: "PID", field: 3))]] {
            if let ack = acks.acknowledge(message, issues: issues) { checkParses(ack) }
        }
    } catch {
        precondition(!error.description.isEmpty)
        checkParses(acks.reject(unparseable: bytes, error: error))
    }
    if let batch = try? HL7Batch(parsing: bytes) {
        for case .success(let message) in batch.messages { walk(message) }
    }
    if let path = try? HL7Path(String(decoding: bytes.prefix(24), as: UTF8.self)) {
        precondition((try? HL7Path(path.description)) == path)
    }
    return 0
}

/// Reads every value at every level, and the typed views.
private func walk(_ message: HL7Message) {
    var count = 0
    for segment in message.segments {
        for field in segment.fields {
            for repetition in field.repetitions {
                for component in repetition.components {
                    for subcomponent in component.subcomponents {
                        if case .text(let text) = subcomponent.value { count &+= text.utf8.count }
                    }
                }
            }
        }
    }
    let msh = message.msh
    count &+= [msh.controlID, msh.versionID, msh.messageType.code].compactMap { $0 }.count
    for pid in message.segments(PIDSegment.self) { count &+= pid.identifiers.count + (pid.nationalID?.count ?? 0) }
    for ft1 in message.segments(FT1Segment.self) { count &+= ft1.extendedAmount.amount == nil ? 0 : 1 }
    precondition(count >= 0)
}

/// Serializing an unchanged message gives the input back; normalized, it parses to the same segments.
private func checkRoundTrips(_ message: HL7Message, input: [UInt8]) {
    guard let preserved = try? message.serialize() else { return }
    precondition(preserved == input, "serialize() changed the bytes")
    guard let normalized = try? message.serialize(terminators: .carriageReturn) else { return }
    let reparsed = try? HL7Message(parsing: normalized)
    precondition(reparsed?.segments.map(\.encoded) == message.segments.map(\.encoded), "normalized message parses differently")
}

/// Written text reads back (line breaks as LF), whatever the delimiters and character set.
private func checkWrite(_ message: HL7Message, text: String) {
    var changed = message
    guard let path = try? HL7Path("ZZZ-2[2].3.2"), (try? changed.set(text, at: path)) != nil,
        let bytes = try? changed.serialize()
    else { return }
    let expected = lineFeedsOnly(text)
    let reparsed = try? HL7Message(parsing: bytes, options: HL7ParseOptions(defaultCharset: message.charset))
    precondition(reparsed?[path] == (expected.isEmpty ? nil : expected), "written text did not read back")
}

private func checkParses(_ ack: HL7Message) {
    guard let bytes = try? ack.serialize() else { return }
    precondition((try? HL7Message(parsing: bytes, options: HL7ParseOptions(defaultCharset: ack.charset))) != nil, "ACK does not parse")
}

/// CR LF and lone CR become LF. Done on bytes: Swift's `String` treats CR LF as one character, so
/// replacing on `String` misses a CR LF that a first replacement creates (CR CR LF → CR LF).
private func lineFeedsOnly(_ text: String) -> String {
    var out: [UInt8] = []
    var bytes = text.utf8.makeIterator()
    var pending = bytes.next()
    while let byte = pending {
        pending = bytes.next()
        if byte == 0x0D {
            out.append(0x0A)
            if pending == 0x0A { pending = bytes.next() }
        } else {
            out.append(byte)
        }
    }
    return String(decoding: out, as: UTF8.self)
}
