import Foundation
import XCTest

@testable import MedBusMapping

/// Pins the exact output bytes (member order, number text, escapes) of the two hot mappings, so that
/// any engine change that moves a byte fails here, not in a consumer.
///
/// The mapping files and code tables are snapshots of Mappings/his/adt-patient-encounter.yaml and
/// oru-result.yaml and of Mappings/codes (taken when the engine was optimised): edits to the shipped
/// files do not move these tests. Schemas are read from Mappings/schemas; they can only fail a record.
final class PinnedOutputTests: XCTestCase {
    func testADTPatientAndEncounterBytes() throws {
        let mapping = try Self.compile(Self.adtYAML)
        try Self.assertRecords(mapping, sample: "adt_a01.hl7", [
            ("patient", "ZY2025000123", Self.adtA01Patient), ("encounter", "2025000123", Self.adtA01Encounter),
        ])
    }

    func testADTOtherSamplesBytes() throws {
        let mapping = try Self.compile(Self.adtYAML)
        try Self.assertRecords(mapping, sample: "adt_a01_gb18030.hl7", [
            ("patient", "ZY2025000456", Self.gb18030Patient), ("encounter", "2025000456", Self.gb18030Encounter),
        ])
        try Self.assertRecords(mapping, sample: "adt_a01_custom_delimiters.hl7", [("patient", "ZY2025000789", Self.customDelimitersPatient)])
        try Self.assertRecords(mapping, sample: "adt_a03.hl7", [("patient", "ZY2025000123", Self.adtA03Patient), ("encounter", "2025000123", Self.adtA03Encounter)])
    }

    func testORUResultBytes() throws {
        let mapping = try Self.compile(Self.oruYAML)
        try Self.assertRecords(mapping, sample: "oru_r01.hl7", [("result", "F2025011500877", Self.oruResult)])
    }

    /// Applying twice to one parse and applying to a fresh parse give the same bytes (no state carried over).
    func testRepeatedApplicationIsStable() throws {
        let mapping = try Self.compile(Self.adtYAML)
        for _ in 0..<3 {
            try Self.assertRecords(mapping, sample: "adt_a01.hl7", [
                ("patient", "ZY2025000123", Self.adtA01Patient), ("encounter", "2025000123", Self.adtA01Encounter),
            ])
        }
    }

    // MARK: helpers

    static func compile(_ yaml: String) throws -> Mapping {
        var files = ["his/map.yaml": yaml]
        for (name, text) in codeTables { files["codes/\(name).csv"] = text }
        let schemas = Fixtures.repositoryRoot.appendingPathComponent("Mappings/schemas")
        for name in ["patient", "encounter", "result"] {
            files["schemas/\(name).schema.json"] = try String(contentsOf: schemas.appendingPathComponent("\(name).schema.json"), encoding: .utf8)
        }
        let dir = try Fixtures.directory(files)
        return try Mapping.compile(try MappingBundle.load(mappingFile: dir.appendingPathComponent("his/map.yaml"), displayPath: "his/map.yaml"))
    }

    static func assertRecords(
        _ mapping: Mapping, sample: String, _ expected: [(target: String, key: String, body: String)], file: StaticString = #filePath,
        line: UInt = #line
    ) throws {
        let records = Fixtures.records(Fixtures.apply(mapping, try Fixtures.sample(sample)), file: file, line: line)
        XCTAssertEqual(records.map(\.target), expected.map(\.target), sample, file: file, line: line)
        for (record, want) in zip(records, expected) {
            XCTAssertEqual(record.key, want.key, "\(sample) \(want.target) key", file: file, line: line)
            XCTAssertEqual(record.contentType, MappedRecord.jsonContentType, file: file, line: line)
            // Compared as bytes: a reordered member or a re-spelled number is a failure.
            XCTAssertEqual(record.value, Array(want.body.utf8), "\(sample) \(want.target): \(Fixtures.text(record))", file: file, line: line)
        }
    }

    // MARK: expected bytes
    static let adtA01Patient = #"{"patientId":"ZY2025000123","identifiers":[{"system":"H37010200001","value":"ZY2025000123","type":"medical-record-no"},{"system":"2.16.156.10011.1.3","value":"370102199001011234","type":"national-id"},{"system":"JNYB","value":"YB3701000012345","type":"health-card"}],"name":"李明华","familyName":"李","givenName":"明华","namePinyin":"LI MINGHUA","gender":"male","birthDate":"1990-01-01","ethnicity":{"code":"01","display":"汉族","system":"GB3304"},"address":{"line":"泉城路88号","city":"济南市","province":"山东省","postalCode":"250001","country":"CHN","districtCode":"370102"},"telecom":[{"kind":"phone","value":"86001234","areaCode":"531"},{"kind":"mobile","value":"13800000000"}],"contacts":[{"name":"李建华","relationship":{"code":"FTH","display":"父亲","system":"HL70063"},"phone":"13900000000"}],"hospitalCode":"H37010200001"}"#
    static let adtA01Encounter = #"{"encounterId":"2025000123","patientId":"ZY2025000123","hospitalCode":"H37010200001","class":"inpatient","status":"in-progress","eventType":"A01","eventTime":"2025-01-15T10:30:00+08:00","admissionType":"R","location":{"ward":"0301","room":"0312","bed":"02","building":"住院部","floor":"3"},"departmentCode":"0301","attendingDoctor":{"id":"D1023","name":"王建国","title":"主任医师"},"referringDoctor":{"id":"D2041","name":"赵丽"},"admittedAt":"2025-01-15T10:15:00+08:00","admitReason":"急性阑尾炎","diagnoses":[{"code":"K35.800","display":"急性阑尾炎","system":"ICD10","type":"A","insuranceCode":"K35.800x001"}]}"#
    static let gb18030Patient = #"{"patientId":"ZY2025000456","identifiers":[{"system":"H37010200001","value":"ZY2025000456","type":"medical-record-no"},{"system":"2.16.156.10011.1.3","value":"370102198812121234","type":"national-id"}],"name":"王錦誠","familyName":"王","givenName":"錦誠","gender":"male","birthDate":"1988-12-12","address":{"line":"历下区經十路9号","city":"济南市","province":"山东省","postalCode":"250014","country":"CHN"},"telecom":[{"kind":"mobile","value":"13600000000"}],"contacts":[{"name":"𠮷祥","relationship":{"code":"SPO","display":"配偶","system":"HL70063"}}],"hospitalCode":"H37010200001"}"#
    static let gb18030Encounter = #"{"encounterId":"2025000456","patientId":"ZY2025000456","hospitalCode":"H37010200001","class":"inpatient","status":"in-progress","eventType":"A01","eventTime":"2025-01-18T09:45:00+08:00","location":{"ward":"0401","room":"0405","bed":"01","building":"住院部"},"departmentCode":"0401","attendingDoctor":{"id":"D4001","name":"孙立新","title":"主任医师"}}"#
    static let customDelimitersPatient = #"{"patientId":"ZY2025000789","identifiers":[{"system":"H37010200001","value":"ZY2025000789","type":"medical-record-no"},{"system":"2.16.156.10011.1.3","value":"370102197003031234","type":"national-id"}],"name":"赵国强","familyName":"赵","givenName":"国强","gender":"male","birthDate":"1970-03-03","address":{"line":"和平路5号","city":"济南市","province":"山东省","postalCode":"250001","country":"CHN"},"telecom":[{"kind":"email","value":"zhaoguoqiang@example.cn"}],"hospitalCode":"H37010200001"}"#
    static let adtA03Patient = #"{"patientId":"ZY2025000123","identifiers":[{"system":"H37010200001","value":"ZY2025000123","type":"medical-record-no"}],"name":"李明华","familyName":"李","givenName":"明华","gender":"male","birthDate":"1990-01-01","hospitalCode":"H37010200001"}"#
    static let adtA03Encounter = #"{"encounterId":"2025000123","patientId":"ZY2025000123","hospitalCode":"H37010200001","class":"inpatient","status":"finished","eventType":"A03","eventTime":"2025-01-22T16:10:00+08:00","location":{"ward":"0301","room":"0312","bed":"02"},"departmentCode":"0301","admittedAt":"2025-01-15T10:15:00+08:00","dischargedAt":"2025-01-22T16:00:00+08:00","diagnoses":[{"code":"K35.800","display":"急性阑尾炎","system":"ICD10","type":"F","insuranceCode":"K35.800x001"}]}"#
    static let oruResult = #"{"resultId":"F2025011500877","placerOrderNo":"LIS2025011500108","patientId":"ZY2025000123","hospitalCode":"H37010200001","test":{"code":"CBC","display":"血常规","system":"LOCAL"},"status":"final","collectedAt":"2025-01-15T10:40:00+08:00","reportedAt":"2025-01-15T14:25:00+08:00","orderingDoctor":{"id":"D1023","name":"王建国"},"observations":[{"setId":"1","valueType":"NM","code":{"code":"WBC","display":"白细胞计数","system":"LOCAL"},"value":"13.6","numericValue":13.6,"units":"10*9/L","referenceRange":"3.5-9.5","abnormalFlag":"H","status":"final","observedAt":"2025-01-15T14:20:00+08:00"},{"setId":"2","valueType":"NM","code":{"code":"NEUT%","display":"中性粒细胞百分比","system":"LOCAL"},"value":"86.2","numericValue":86.2,"units":"%","referenceRange":"40-75","abnormalFlag":"H","status":"final","observedAt":"2025-01-15T14:20:00+08:00"},{"setId":"3","valueType":"NM","code":{"code":"HGB","display":"血红蛋白","system":"LOCAL"},"value":"142","numericValue":142,"units":"g/L","referenceRange":"130-175","abnormalFlag":"N","status":"final","observedAt":"2025-01-15T14:20:00+08:00"},{"setId":"4","valueType":"NM","code":{"code":"PLT","display":"血小板计数","system":"LOCAL"},"value":"256","numericValue":256,"units":"10*9/L","referenceRange":"125-350","abnormalFlag":"N","status":"final","observedAt":"2025-01-15T14:20:00+08:00"},{"setId":"5","valueType":"ST","code":{"code":"CRP","display":"C反应蛋白","system":"LOCAL"},"value":">200","units":"mg/L","referenceRange":"0-10","abnormalFlag":"HH","status":"final","observedAt":"2025-01-15T14:20:00+08:00"},{"setId":"6","valueType":"FT","code":{"code":"COMMENT","display":"检验备注","system":"LOCAL"},"value":"\\H\\危急值\\N\\ 已电话通知病区\n接听人: 护士刘&复核人: 陈|已登记","status":"final"}],"notes":["标本已离心 5^10 分钟"]}"#

    // MARK: snapshots of the shipped mapping files and code tables

    static let adtYAML = #"""
        # yaml-language-server: $schema=../mapping.schema.json
        name: adt-patient-encounter
        description: >
          HL7 v2 ADT^A01/A03/A04/A08 from a HIS → canonical patient (every message) and encounter (when the
          message carries a visit number). Some HIS (H37010200001's discharge and charge feeds) send the
          visit number one field late, in PV1-20 with identifier type VN; that is accepted too.
        source:
          format: hl7v2
          messageTypes: [ADT^A01, ADT^A03, ADT^A04, ADT^A08]
          senders: ["his.*"]
          versions: ["2.3", "2.4", "2.5", "2.6", "2.7", "2.8"]
        timeZone: Asia/Shanghai
        codeTables:
          sex: { file: ../codes/sex.csv, onMissing: error }
          idType: { file: ../codes/id-type.csv, onMissing: default, default: other }
          telecomKind: { file: ../codes/telecom-kind.csv, onMissing: default, default: other }
          patientClass: { file: ../codes/patient-class.csv, onMissing: default, default: other }
          encounterStatus: { file: ../codes/encounter-status.csv, onMissing: error }
          diagnosisInsurance: { file: ../codes/diagnosis-insurance.csv, onMissing: passThrough }
        filter: { exists: PID-3 }
        targets:
          - name: patient
            format: json
            schema: ../schemas/patient.schema.json
            topic: canonical.patient
            key: { path: "PID-3[1].1" }
            body:
              patientId: { path: "PID-3[1].1", required: true }
              identifiers:
                each: PID-3
                item:
                  object:
                    system: { paths: ["PID-3.4.2", "PID-3.4.1"] }
                    value: { path: PID-3.1 }
                    type: { path: PID-3.5, code: idType }
              name: { format: "{PID-5.1}{PID-5.2}" }
              familyName: { path: PID-5.1 }
              givenName: { path: PID-5.2 }
              namePinyin: { format: "{PID-5[2].1} {PID-5[2].2}" }
              gender: { path: PID-8, code: sex }
              birthDate: { path: PID-7, type: date }
              ethnicity:
                object:
                  code: { path: PID-22.1 }
                  display: { path: PID-22.2 }
                  system: { path: PID-22.3 }
              address:
                object:
                  line: { path: PID-11.1 }
                  city: { path: PID-11.3 }
                  province: { path: PID-11.4 }
                  postalCode: { path: PID-11.5 }
                  country: { path: PID-11.6 }
                  districtCode: { path: PID-11.9 }
              telecom:
                each: PID-13
                item:
                  object:
                    kind: { path: PID-13.3, code: telecomKind }
                    value: { paths: [PID-13.7, PID-13.4, PID-13.1] }
                    areaCode: { path: PID-13.6 }
              contacts:
                each: NK1
                item:
                  object:
                    name: { format: "{NK1-2.1}{NK1-2.2}" }
                    relationship:
                      object:
                        code: { path: NK1-3.1 }
                        display: { path: NK1-3.2 }
                        system: { path: NK1-3.3 }
                    phone: { paths: [NK1-5.7, NK1-5.1] }
              hospitalCode: { path: MSH-4.1 }

          - name: encounter
            format: json
            schema: ../schemas/encounter.schema.json
            topic: canonical.encounter
            key: { paths: [PV1-19.1, PV1-20.1] }
            when:
              any:
                - { exists: PV1-19 }
                - { path: PV1-20.5, equals: VN }
            body:
              encounterId: { paths: [PV1-19.1, PV1-20.1], required: true }
              patientId: { path: "PID-3[1].1", required: true }
              hospitalCode: { path: MSH-4.1 }
              class: { path: PV1-2, code: patientClass, required: true }
              status: { path: MSH-9.2, code: encounterStatus, when: { path: MSH-9.2, in: [A01, A03, A04] } }
              eventType: { path: MSH-9.2 }
              eventTime: { path: EVN-2, type: datetime }
              admissionType: { path: PV1-4 }
              location:
                object:
                  ward: { path: PV1-3.1 }
                  room: { path: PV1-3.2 }
                  bed: { path: PV1-3.3 }
                  building: { path: PV1-3.7 }
                  floor: { path: PV1-3.8 }
              departmentCode: { path: PV1-10 }
              attendingDoctor:
                object:
                  id: { path: PV1-7.1 }
                  name: { format: "{PV1-7.2}{PV1-7.3}" }
                  title: { path: PV1-7.7 }
              referringDoctor:
                object:
                  id: { path: PV1-8.1 }
                  name: { format: "{PV1-8.2}{PV1-8.3}" }
                  title: { path: PV1-8.7 }
              admittingDoctor:
                object:
                  id: { path: PV1-17.1 }
                  name: { format: "{PV1-17.2}{PV1-17.3}" }
                  title: { path: PV1-17.7 }
              admittedAt: { path: PV1-44, type: datetime }
              dischargedAt: { path: PV1-45, type: datetime }
              dischargeDisposition: { path: PV1-36 }
              admitReason: { paths: [PV2-3.2, PV2-3.1] }
              diagnoses:
                each: DG1
                item:
                  object:
                    code: { path: DG1-3.1 }
                    display: { path: DG1-3.2 }
                    system: { path: DG1-3.3 }
                    type: { path: DG1-6 }
                    insuranceCode: { path: DG1-3.1, code: diagnosisInsurance }
        """#

    static let oruYAML = #"""
        # yaml-language-server: $schema=../mapping.schema.json
        name: oru-result
        description: HL7 v2 ORU^R01 from a LIS / RIS → one canonical result per message, one observation per OBX
        source:
          format: hl7v2
          messageTypes: [ORU^R01]
          senders: ["his.*"]
          versions: ["2.3", "2.4", "2.5", "2.6", "2.7", "2.8"]
        timeZone: Asia/Shanghai
        codeTables:
          resultStatus: { file: ../codes/result-status.csv, onMissing: default, default: unknown }
        filter: { exists: OBX-3 }
        targets:
          - name: result
            format: json
            schema: ../schemas/result.schema.json
            topic: canonical.result
            key: { paths: [OBR-3.1, ORC-3.1] }
            body:
              resultId: { paths: [OBR-3.1, ORC-3.1], required: true }
              placerOrderNo: { paths: [OBR-2.1, ORC-2.1] }
              patientId: { path: "PID-3[1].1", required: true }
              encounterId: { path: PV1-19.1 }
              hospitalCode: { path: MSH-4.1 }
              test:
                object:
                  code: { path: OBR-4.1 }
                  display: { path: OBR-4.2 }
                  system: { path: OBR-4.3 }
              status: { path: OBR-25, code: resultStatus }
              collectedAt: { path: OBR-7, type: datetime }
              reportedAt: { path: OBR-22, type: datetime }
              orderingDoctor:
                object:
                  id: { path: OBR-16.1 }
                  name: { format: "{OBR-16.2}{OBR-16.3}" }
              observations:
                each: OBX
                item:
                  object:
                    setId: { path: OBX-1 }
                    valueType: { path: OBX-2 }
                    code:
                      object:
                        code: { path: OBX-3.1 }
                        display: { path: OBX-3.2 }
                        system: { path: OBX-3.3 }
                    value: { path: OBX-5 }
                    numericValue: { path: OBX-5, type: decimal, when: { path: OBX-2, equals: NM } }
                    units: { path: OBX-6.1 }
                    referenceRange: { path: OBX-7 }
                    abnormalFlag: { path: OBX-8 }
                    status: { path: OBX-11, code: resultStatus }
                    observedAt: { path: OBX-14, type: datetime }
              notes:
                each: NTE
                item: { path: NTE-3 }
        """#

    static let codeTables: [String: String] = [
        "sex": #"""
            code,target,display
            M,male,HL7 0001 男 Male
            F,female,HL7 0001 女 Female
            O,other,HL7 0001 其他 Other
            U,unknown,HL7 0001 未知 Unknown
            A,other,HL7 0001 Ambiguous
            N,unknown,HL7 0001 Not applicable
            1,male,GB/T 2261.1 男性
            2,female,GB/T 2261.1 女性
            9,other,GB/T 2261.1 未说明的性别
            0,unknown,GB/T 2261.1 未知的性别
            male,male,FHIR administrative-gender
            female,female,FHIR administrative-gender
            other,other,FHIR administrative-gender
            unknown,unknown,FHIR administrative-gender
            """#,
        "id-type": #"""
            code,target,display
            MR,medical-record-no,HL7 0203 病案号 Medical record number
            PI,patient-internal,HL7 0203 患者内部标识 Patient internal identifier
            PT,patient-internal,HL7 0203 Patient external identifier
            NI,national-id,HL7 0203 居民身份证号 National unique individual identifier
            NNCHN,national-id,HL7 0203 National person identifier (China)
            PPN,passport,HL7 0203 护照 Passport number
            HC,health-card,HL7 0203 健康卡/社保卡 Health card number
            SS,social-security-no,HL7 0203 社会保障号 Social security number
            VN,visit-no,HL7 0203 就诊号 Visit number
            AN,account-no,HL7 0203 账号 Account number
            MI,insurance-person-no,HL7 0203 医保个人编号 Medicare/insurance number
            """#,
        "telecom-kind": #"""
            code,target,display
            PH,phone,HL7 0202 固定电话 Telephone
            CP,mobile,HL7 0202 手机 Cellular phone
            FX,fax,HL7 0202 传真 Fax
            BP,pager,HL7 0202 Beeper
            Internet,email,HL7 0202 电子邮件 Internet address
            X.400,email,HL7 0202 X.400 email
            phone,phone,FHIR contact-point-system
            sms,mobile,FHIR contact-point-system
            email,email,FHIR contact-point-system
            fax,fax,FHIR contact-point-system
            pager,pager,FHIR contact-point-system
            other,other,FHIR contact-point-system
            """#,
        "patient-class": #"""
            code,target,display
            I,inpatient,HL7 0004 住院 Inpatient
            O,outpatient,HL7 0004 门诊 Outpatient
            E,emergency,HL7 0004 急诊 Emergency
            P,preadmit,HL7 0004 预住院 Preadmit
            R,recurring,HL7 0004 Recurring patient
            B,obstetrics,HL7 0004 Obstetrics
            C,other,HL7 0004 Commercial account
            N,unknown,HL7 0004 Not applicable
            U,unknown,HL7 0004 Unknown
            IMP,inpatient,v3 ActCode inpatient encounter
            ACUTE,inpatient,v3 ActCode inpatient acute
            NONAC,inpatient,v3 ActCode inpatient non-acute
            AMB,outpatient,v3 ActCode ambulatory
            EMER,emergency,v3 ActCode emergency
            PRENC,preadmit,v3 ActCode pre-admission
            OBSENC,observation,v3 ActCode observation encounter
            SS,outpatient,v3 ActCode short stay
            HH,other,v3 ActCode home health
            VR,other,v3 ActCode virtual
            """#,
        "encounter-status": #"""
            code,target,display
            A01,in-progress,HL7 ADT admit
            A02,in-progress,HL7 ADT transfer
            A03,finished,HL7 ADT discharge
            A04,arrived,HL7 ADT register outpatient
            A05,planned,HL7 ADT pre-admit
            A11,cancelled,HL7 ADT cancel admit
            A13,in-progress,HL7 ADT cancel discharge
            planned,planned,FHIR encounter-status
            arrived,arrived,FHIR encounter-status
            triaged,arrived,FHIR encounter-status
            in-progress,in-progress,FHIR encounter-status
            onleave,in-progress,FHIR encounter-status
            finished,finished,FHIR encounter-status
            cancelled,cancelled,FHIR encounter-status
            entered-in-error,cancelled,FHIR encounter-status
            unknown,unknown,FHIR encounter-status
            """#,
        "diagnosis-insurance": #"""
            code,target,display
            K35.800,K35.800x001,急性阑尾炎 (illustrative: clinical edition → insurance edition / 示例)
            K35.900,K35.900x001,急性阑尾炎，未特指 (illustrative / 示例)
            ZD0001,I10.x00x002,原发性高血压 (local code; illustrative / 示例)
            ZD0002,E11.900,2型糖尿病 (local code; illustrative / 示例)
            ZD0003,J18.900,肺炎 (local code; illustrative / 示例)
            """#,
        "result-status": #"""
            code,target,display
            P,preliminary,HL7 0085/0123 初步 Preliminary
            R,preliminary,HL7 0085 Results entered - not verified
            F,final,HL7 0085/0123 最终 Final
            C,corrected,HL7 0085/0123 更正 Corrected
            X,cancelled,HL7 0085/0123 取消 Cannot be obtained / cancelled
            D,cancelled,HL7 0085 Deletes the OBX record
            W,cancelled,HL7 0085 Post original as wrong
            I,preliminary,HL7 0123 Specimen in lab
            S,preliminary,HL7 0123 Partial
            """#,
    ]
}
