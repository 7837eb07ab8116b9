import Testing
@testable import PodNet

@Suite("Resource quantities")
struct QuantityTests {
    /// Input, canonical text (Kubernetes' `String()`), value in nanos.
    @Test("parse and print canonically as Kubernetes does", arguments: [
        ("0", "0", Int128(0)),
        ("1", "1", 1_000_000_000),
        ("1.5", "1500m", 1_500_000_000),
        ("500m", "500m", 500_000_000),
        ("0.5", "500m", 500_000_000),
        ("1000m", "1", 1_000_000_000),
        ("1000k", "1M", 1_000_000_000_000_000),
        ("1024", "1024", 1_024_000_000_000),
        ("1Ki", "1Ki", 1_024_000_000_000),
        ("1024Ki", "1Mi", 1_048_576_000_000_000),
        ("1.5Gi", "1536Mi", 1_610_612_736_000_000_000),
        ("0.5Gi", "512Mi", 536_870_912_000_000_000),
        ("0.5Ki", "512", 512_000_000_000),
        ("100Mi", "100Mi", 104_857_600_000_000_000),
        ("1e3", "1e3", 1_000_000_000_000),
        ("1.5e3", "1500", 1_500_000_000_000),
        ("1E", "1E", 1_000_000_000_000_000_000_000_000_000),
        ("0.1n", "1n", 1),
        ("-1", "-1", -1_000_000_000),
        ("+2", "2", 2_000_000_000),
        ("007", "7", 7_000_000_000),
        ("1.", "1", 1_000_000_000),
        (".5", "500m", 500_000_000),
        ("10u", "10u", 10_000),
    ])
    func parse(_ text: String, canonical: String, nanos: Int128) throws {
        let quantity = try Quantity(parsing: text)
        #expect(quantity.description == canonical)
        #expect(quantity.nanos == nanos)
    }

    @Test("malformed quantities fail with Kubernetes' errors", arguments: [
        ("", Quantity.ParseError.formatWrong),
        ("lots", .formatWrong),
        ("1x", .formatWrong),
        ("1.2.3", .formatWrong),
        ("1 Gi", .formatWrong),
        ("1kk", .suffix),
        ("1Kii", .suffix),
        ("1e", .suffix),
    ])
    func malformed(_ text: String, error: Quantity.ParseError) {
        #expect(throws: error) { try Quantity(parsing: text) }
    }

    @Test("values round up: milli for CPU, whole units for bytes")
    func scaledValues() throws {
        #expect(try Quantity(parsing: "250m").milliValue == 250)
        #expect(try Quantity(parsing: "1n").milliValue == 1)
        #expect(try Quantity(parsing: "1500m").value == 2)
        #expect(try Quantity(parsing: "64Mi").value == 67_108_864)
    }

    @Test("quantities compare by value, whatever the suffix")
    func comparison() throws {
        #expect(try Quantity(parsing: "1Ki") == Quantity(parsing: "1024"))
        #expect(try Quantity(parsing: "1k") < Quantity(parsing: "1Ki"))
        #expect(try Quantity(parsing: "1Ki").description != Quantity(parsing: "1024").description)
    }

    @Test("JSON numbers are quantities too")
    func json() throws {
        #expect(try Quantity(json: 2).description == "2")
        #expect(try Quantity(json: .number(0.25)).description == "250m")
        #expect(throws: Quantity.ParseError.formatWrong) { try Quantity(json: true) }
    }
}
