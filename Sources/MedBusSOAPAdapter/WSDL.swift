import MedBusHL7

/// The WSDL 1.1 the adapter serves at `GET <path>?wsdl`: one document/literal operation
/// (`<operation>(action, message) → <operation>Result`, strings carrying HL7 v3 XML), bound to
/// SOAP 1.1 and SOAP 1.2, both ports at the listener's address.
///
/// A bare HL7 v3 interaction as the Body element is accepted too; it has no WSDL operation (its
/// root element varies with the interaction), see `SOAPRequest`.
enum WSDL {
    static let targetNamespace = "urn:medbus:soap"

    static func soapAction(_ operation: String) -> String { "\(targetNamespace)/\(operation)" }

    static func document(operation: String, address: String) -> String {
        let op = XMLEscaping.escape(operation)
        let location = XMLEscaping.escape(address)
        func binding(_ name: String, _ prefix: String) -> String {
            """
              <wsdl:binding name="\(name)" type="tns:HL7v3PortType">
                <\(prefix):binding transport="http://schemas.xmlsoap.org/soap/http" style="document"/>
                <wsdl:operation name="\(op)">
                  <\(prefix):operation soapAction="\(XMLEscaping.escape(soapAction(operation)))" style="document"/>
                  <wsdl:input><\(prefix):body use="literal"/></wsdl:input>
                  <wsdl:output><\(prefix):body use="literal"/></wsdl:output>
                </wsdl:operation>
              </wsdl:binding>
            """
        }
        return """
        <?xml version="1.0" encoding="UTF-8"?>
        <wsdl:definitions name="MedBusHL7v3" targetNamespace="\(targetNamespace)"
            xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
            xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/" xmlns:xsd="http://www.w3.org/2001/XMLSchema"
            xmlns:tns="\(targetNamespace)">
          <wsdl:documentation>MedBus HIS adapter: an HL7 v3 interaction in `message` (escaped text or CDATA) is stored, \
        published to Kafka, and answered with its MCCI_IN000002UV01 acknowledgement in `\(op)Result`.</wsdl:documentation>
          <wsdl:types>
            <xsd:schema targetNamespace="\(targetNamespace)" elementFormDefault="qualified">
              <xsd:element name="\(op)">
                <xsd:complexType><xsd:sequence>
                  <xsd:element name="action" type="xsd:string" minOccurs="0"/>
                  <xsd:element name="message" type="xsd:string"/>
                </xsd:sequence></xsd:complexType>
              </xsd:element>
              <xsd:element name="\(op)Response">
                <xsd:complexType><xsd:sequence>
                  <xsd:element name="\(op)Result" type="xsd:string"/>
                </xsd:sequence></xsd:complexType>
              </xsd:element>
            </xsd:schema>
          </wsdl:types>
          <wsdl:message name="\(op)Request"><wsdl:part name="parameters" element="tns:\(op)"/></wsdl:message>
          <wsdl:message name="\(op)Response"><wsdl:part name="parameters" element="tns:\(op)Response"/></wsdl:message>
          <wsdl:portType name="HL7v3PortType">
            <wsdl:operation name="\(op)">
              <wsdl:input message="tns:\(op)Request"/>
              <wsdl:output message="tns:\(op)Response"/>
            </wsdl:operation>
          </wsdl:portType>
        \(binding("HL7v3Soap11", "soap"))
        \(binding("HL7v3Soap12", "soap12"))
          <wsdl:service name="MedBusHL7v3Service">
            <wsdl:port name="HL7v3Soap11" binding="tns:HL7v3Soap11"><soap:address location="\(location)"/></wsdl:port>
            <wsdl:port name="HL7v3Soap12" binding="tns:HL7v3Soap12"><soap12:address location="\(location)"/></wsdl:port>
          </wsdl:service>
        </wsdl:definitions>

        """
    }

    /// The wrapped operation's answer: the acknowledgement as escaped text in `<operation>Result`.
    static func wrappedResponse(operation: String, acknowledgement: String) -> String {
        let op = XMLEscaping.escape(operation)
        return "<\(op)Response xmlns=\"\(targetNamespace)\"><\(op)Result>\(XMLEscaping.escape(acknowledgement))</\(op)Result></\(op)Response>"
    }
}
