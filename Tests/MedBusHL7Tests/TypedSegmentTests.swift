import Foundation
import MedBusHL7
import Testing

@Suite struct TypedSegmentTests {
    @Test func headerAndEvent() throws {
        let message = try Samples.message("adt_a01.hl7")
        let msh = message.msh
        #expect(msh.sendingApplication.namespaceID == "HIS")
        #expect(msh.sendingFacility == HL7HierarchicDesignator(message.element(at: try path("MSH-4"))))
        #expect(msh.sendingFacility.universalID == "2.16.156.10011.1.5.37010200001")
        #expect(msh.sendingFacility.universalIDType == "ISO")
        #expect(msh.receivingApplication.namespaceID == "MEDBUS")
        #expect(msh.receivingFacility.namespaceID == "H37010200001")
        #expect(msh.dateTime == HL7DateTime("20250115103000+0800"))
        #expect(msh.messageType.code == "ADT" && msh.messageType.triggerEvent == "A01" && msh.messageType.structure == "ADT_A01")
        #expect(msh.controlID == "MSG20250115103000001")
        #expect(msh.processingID == "P")
        #expect(msh.versionID == "2.5")
        #expect(msh.acceptAckType == "AL" && msh.applicationAckType == "NE")
        #expect(msh.characterSets == ["UNICODE UTF-8"])

        let evn = try #require(message.segment(EVNSegment.self))
        #expect(evn.eventTypeCode == "A01")
        #expect(evn.recordedDateTime?.day == 15)
        #expect(evn.operators.first?.family == "王")
    }

    @Test func patientAndVisit() throws {
        let message = try Samples.message("adt_a01.hl7")
        let pid = try #require(message.segment(PIDSegment.self))
        #expect(pid.identifiers.map(\.id) == ["ZY2025000123", "370102199001011234", "YB3701000012345"])
        #expect(pid.identifiers[0].assigningAuthority.namespaceID == "H37010200001")
        #expect(pid.identifiers[0].identifierTypeCode == "MR")
        #expect(pid.identifiers[1].assigningAuthority.universalID == "2.16.156.10011.1.3")
        #expect(pid.nationalID == "370102199001011234")
        #expect(pid.name?.family == "李" && pid.name?.given == "明华" && pid.name?.nameTypeCode == "L")
        #expect(pid.names.count == 2)
        #expect(pid.birthDate == HL7DateTime("19900101"))
        #expect(pid.sex == "M")
        let address = try #require(pid.addresses.first)
        #expect((address.street, address.city, address.state, address.postalCode, address.country) == ("泉城路88号", "济南市", "山东省", "250001", "CHN"))
        #expect(address.addressType == "H" && address.countyCode == "370102")
        #expect(pid.homePhones.map(\.equipmentType) == ["PH", "CP"])
        #expect(pid.homePhones[1].localNumber == "13800000000")
        #expect(pid.homePhones[0].areaCode == "531")
        #expect(pid.ethnicGroup.identifier == "01" && pid.ethnicGroup.text == "汉族")

        let pv1 = try #require(message.segment(PV1Segment.self))
        #expect(pv1.patientClass == "I")
        #expect(pv1.assignedLocation.pointOfCare == "0301" && pv1.assignedLocation.room == "0312" && pv1.assignedLocation.bed == "02")
        #expect(pv1.assignedLocation.facility.namespaceID == "H37010200001")
        #expect(pv1.assignedLocation.building == "住院部" && pv1.assignedLocation.floor == "3")
        #expect(pv1.attendingDoctors.first?.id == "D1023")
        #expect(pv1.attendingDoctors.first?.given == "建国")
        #expect(pv1.referringDoctors.first?.family == "赵")
        #expect(pv1.hospitalService == "0301")
        #expect(pv1.visitNumber.id == "2025000123" && pv1.visitNumber.identifierTypeCode == "VN")
        #expect(pv1.admitDateTime?.description == "20250115101500")
        #expect(pv1.dischargeDateTime == nil)
        #expect(try Samples.message("adt_a03.hl7").segment(PV1Segment.self)?.dischargeDateTime?.hour == 16)
    }

    @Test func nationalIDFallsBackToPID19() throws {
        let message = try parse(#"MSH|^~\&|A"#, "PID|1||MZ001^^^H1^PI" + String(repeating: "|", count: 16) + "370102199001011234")
        #expect(message.segment(PIDSegment.self)?.nationalID == "370102199001011234")
    }

    @Test func ordersAndResults() throws {
        let orm = try Samples.message("orm_o01.hl7")
        let orc = try #require(orm.segment(ORCSegment.self))
        #expect(orc.orderControl == "NW")
        #expect(orc.placerOrderNumber.id == "RIS2025011500031" && orc.placerOrderNumber.namespaceID == "HIS")
        #expect(orc.placerGroupNumber.id == "G2025011500012")
        #expect(orc.orderStatus == "SC")
        #expect(orc.enteredBy.first?.family == "护士")
        #expect(orc.orderingProviders.first?.id == "D1023")
        #expect(orc.enteringOrganization.text == "普外科病区")
        let obr = try #require(orm.segment(OBRSegment.self))
        #expect(obr.universalServiceID.identifier == "CT0012" && obr.universalServiceID.codingSystem == "LOCAL")
        #expect(obr.orderingProviders.first?.family == "王")
        #expect(obr.diagnosticServiceSection == "CT")

        let oru = try Samples.message("oru_r01.hl7")
        let obx = oru.segments(OBXSegment.self)
        #expect(obx.count == 6)
        #expect(obx.map(\.valueType) == ["NM", "NM", "NM", "NM", "ST", "FT"])
        #expect(obx[0].identifier.text == "白细胞计数")
        #expect(obx[0].value.string == "13.6")
        #expect(obx[0].units.identifier == "10*9/L" && obx[0].units.codingSystem == "UCUM")
        #expect(obx[0].referenceRange == "3.5-9.5")
        #expect(obx[0].abnormalFlags == ["H"])
        #expect(obx[4].abnormalFlags == ["HH", "A"])
        #expect(obx[0].resultStatus == "F")
        #expect(obx[0].observationDateTime?.minute == 20)
        #expect(oru.segment(OBRSegment.self)?.resultStatus == "F")
        #expect(oru.segment(OBRSegment.self)?.fillerOrderNumber.id == "F2025011500877")
        #expect(oru.segment(OBRSegment.self)?.resultsReportedDateTime?.minute == 25)
    }

    @Test func pharmacy() throws {
        let message = try Samples.message("rde_o11.hl7")
        let rxe = message.segments(RXESegment.self)
        #expect(rxe.count == 2)
        #expect(rxe[0].giveCode.identifier == "86900123000017" && rxe[0].giveCode.text == "注射用头孢曲松钠")
        #expect(rxe[0].giveAmountMinimum == "2" && rxe[0].giveAmountMaximum == "2")
        #expect(rxe[0].giveUnits.identifier == "g" && rxe[0].giveDosageForm.text == "注射剂")
        #expect(rxe[0].providersAdministrationInstructions.first?.text == "皮试阴性后使用")
        #expect(rxe[0].dispenseAmount == "6" && rxe[0].dispenseUnits.identifier == "支")
        #expect(rxe[0].numberOfRefills == "0" && rxe[0].prescriptionNumber == "CF2025011500019")
        #expect(rxe[0].dispensingInstructions.first?.text == "溶于0.9%氯化钠注射液100ml")
    }

    @Test func chargesWithMoney() throws {
        let message = try Samples.message("dft_p03.hl7")
        let lines = message.segments(FT1Segment.self)
        #expect(lines.count == 4)
        #expect(lines.map(\.transactionType) == ["CG", "CG", "CG", "CR"])
        #expect(lines.map { $0.extendedAmount.amount } == [Decimal(string: "216.00"), 260, Decimal(string: "1850.50"), -500])
        #expect(lines.compactMap { $0.extendedAmount.amount }.reduce(0, +) == Decimal(string: "1826.50"))
        #expect(lines[0].unitAmount.quantity == "36.00" && lines[0].unitAmount.denomination == "CNY")
        #expect(lines[0].transactionQuantity == "6")
        #expect(lines[0].transactionCode.text == "注射用头孢曲松钠")
        #expect(lines[0].transactionDescription == "头孢曲松钠 1g")
        #expect(lines[0].departmentCode.identifier == "0301")
        #expect(lines[0].insurancePlanID.identifier == "310")
        #expect(lines[0].performedBy.first?.id == "D1023" && lines[0].orderedBy.first?.id == "D1023")
        #expect(lines[0].transactionDate?.description == "20250115120000")
        #expect(lines[0].transactionID == "SF2025012200001")
    }

    @Test func dateTimes() throws {
        let full = try #require(HL7DateTime("20250115103000.1234+0800"))
        #expect((full.year, full.month, full.day, full.hour, full.minute, full.second) == (2025, 1, 15, 10, 30, 0))
        #expect(full.utcOffsetMinutes == 480)
        #expect(full.description == "20250115103000.1234+0800")
        #expect(full.date(defaultTimeZone: TimeZone(identifier: "UTC")!) == Date(timeIntervalSince1970: 1_736_908_200.1234))
        let dateOnly = try #require(HL7DateTime("19900101"))
        #expect(dateOnly.hour == nil && dateOnly.description == "19900101")
        #expect(dateOnly.date(defaultTimeZone: TimeZone(identifier: "Asia/Shanghai")!) == Date(timeIntervalSince1970: 631_123_200))
        #expect(HL7DateTime("2025011510-0500")?.utcOffsetMinutes == -300)
        for invalid in ["", "2025-01-15", "202501151", "20251315", "20250115103000.12345", "20250115+08", "2025011510.5", "２０２５"] {
            #expect(HL7DateTime(invalid) == nil, "\(invalid)")
        }
    }
}
