import Foundation
import MedBusCore
import MedBusKafka
import MedBusStore
import XCTest

/// An adapter whose manifest requires a WS-Security UsernameToken (`wsSecurityUsers`).
final class WSSecurityTests: SOAPAdapterTestCase {
    override var options: [String: String] { ["wsSecurityUsers": "$DIR/users.txt", "wsSecurityWindowSeconds": "300"] }

    func testUsernameTokenGoodBadAndReplayed() async throws {
        let documents = try ["MSG-WSS-DIGEST", "MSG-WSS-TEXT", "MSG-WSS-WRONG", "MSG-WSS-NONE"].map { try registration(id: $0) }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: documents), as: UTF8.self)
        // zeep signs with its own UsernameToken (PasswordDigest = Base64(SHA-1(nonce + created + password)));
        // the replay re-sends the very envelope zeep sent, nonce included.
        let results = try python("""
            import json, sys, requests
            from lxml import etree
            from zeep import Client
            from zeep.exceptions import Fault
            from zeep.plugins import HistoryPlugin
            from zeep.wsse.username import UsernameToken
            wsdl = sys.argv[1]
            digest, text, wrong, none = json.loads(\(String(reflecting: json)))
            out = {}
            history = HistoryPlugin()
            client = Client(wsdl, wsse=UsernameToken("his01", "s3cret-pass", use_digest=True), plugins=[history])
            out["digest"] = client.service.HIPMessageServer(action="PatientRegistryAdd", message=digest)
            sent = etree.tostring(history.last_sent["envelope"])
            replay = requests.post(wsdl.split("?")[0], data=sent, headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"urn:medbus:soap/HIPMessageServer"'})
            out["replay"] = [replay.status_code, replay.text]
            out["text"] = Client(wsdl, wsse=UsernameToken("his01", "s3cret-pass")).service.HIPMessageServer(action="PatientRegistryAdd", message=text)
            for name, client, document in [("wrong", Client(wsdl, wsse=UsernameToken("his01", "not-the-password", use_digest=True)), wrong),
                                            ("unknown", Client(wsdl, wsse=UsernameToken("mallory", "s3cret-pass")), wrong),
                                            ("none", Client(wsdl), none)]:
                try:
                    client.service.HIPMessageServer(action="PatientRegistryAdd", message=document)
                    out[name] = ["accepted", ""]
                except Fault as fault:
                    out[name] = [fault.code, fault.message]
            print(json.dumps(out))
            """)
        XCTAssertTrue((results["digest"] as? String ?? "").contains("<acknowledgement typeCode=\"AA\">"), "PasswordDigest accepted: \(results)")
        XCTAssertTrue((results["text"] as? String ?? "").contains("<acknowledgement typeCode=\"AA\">"), "PasswordText accepted: \(results)")
        let replay = try XCTUnwrap(results["replay"] as? [Any])
        XCTAssertEqual(replay.first as? Int, 500)
        XCTAssertTrue((replay.last as? String ?? "").contains("Nonce already used"), "replayed request refused: \(replay)")
        XCTAssertTrue((replay.last as? String ?? "").contains("<faultcode>wsse:FailedAuthentication</faultcode>"))
        for name in ["wrong", "unknown"] {
            let fault = try XCTUnwrap(results[name] as? [String])
            XCTAssertTrue(fault[0].hasSuffix("FailedAuthentication"), "\(name): \(fault)")
            XCTAssertEqual(fault[1], "WS-Security: unknown user or wrong password", name)
        }
        XCTAssertEqual((results["none"] as? [String])?.last, "WS-Security: a WS-Security UsernameToken with Username and Password is required")

        // A token whose Created is an hour old, sent with curl.
        let created = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-3600))
        let stale = Self.soap11(Self.wrapped(try registration(id: "MSG-WSS-STALE")), header: """
            <wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" \
            xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"><wsse:UsernameToken>\
            <wsse:Username>his01</wsse:Username><wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">s3cret-pass</wsse:Password>\
            <wsu:Created>\(created)</wsu:Created></wsse:UsernameToken></wsse:Security>
            """)
        let answer = try curl(stale, contentType: "text/xml", soapAction: "")
        XCTAssertEqual(answer.status, 500)
        XCTAssertTrue(answer.body.contains("WS-Security: UsernameToken Created is outside the freshness window of 300 s"), answer.body)

        let records = try await recordsOnTopic()
        XCTAssertEqual(records.compactMap { $0.headers.string(MessageEnvelope.Header.sourceMessageId) }.sorted(),
                       ["HIS01|2.16.156.10011.2.5.1.1|MSG-WSS-DIGEST", "HIS01|2.16.156.10011.2.5.1.1|MSG-WSS-TEXT"], "only the authenticated messages, once each")
        let kept = try rejections()
        XCTAssertEqual(kept.count, 5, "replay, wrong, unknown, none, stale kept as rejected")
        for summary in kept {
            XCTAssertTrue(summary.error?.hasPrefix("ws-security: WS-Security:") == true)
            let payload = String(decoding: try XCTUnwrap(try store.message(id: summary.id)?.payload), as: UTF8.self)
            XCTAssertFalse(payload.contains("s3cret-pass") || payload.contains("Security"), "the stored payload carries no credentials")
        }
    }
}
