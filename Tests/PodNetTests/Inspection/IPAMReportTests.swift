import PodNet
import Testing

@Suite("ipam report")
struct IPAMReportTests {
    @Test func countsPerNodeAndNamesPods() {
        let report = IPAMReport(InspectionFixture.inventory)
        #expect(report.clusterCIDR.description == "10.244.0.0/16")
        #expect(report.serviceCIDR.description == "10.96.0.0/16")
        #expect(report.nodes.map(\.name) == ["n1", "n2"])
        #expect(report.nodes.map(\.capacity) == [253, 253])
        #expect(report.nodes.map(\.allocated) == [2, 2])
        #expect(report.nodes.map(\.free) == [251, 251])
        #expect(report.nodes.map(\.gateway.description) == ["10.244.1.1", "10.244.2.1"])
        #expect((report.capacity, report.allocated, report.free) == (506, 4, 502))
        #expect(report.allocations.map(\.ip.description) == ["10.244.1.2", "10.244.1.3", "10.244.2.2", "10.244.2.3"])
        #expect(report.allocations.map(\.pod) == ["default/a", "default/b", "team/c", nil])
    }

    @Test("allocations sort by address, not by text")
    func numericOrder() {
        var inventory = InspectionFixture.inventory
        inventory.allocations = [
            IPAllocation(ip: IPv4Address(10, 244, 1, 10), node: "n1", owner: "x"),
            IPAllocation(ip: IPv4Address(10, 244, 1, 9), node: "n1", owner: "y"),
        ]
        #expect(IPAMReport(inventory).allocations.map(\.ip.description) == ["10.244.1.9", "10.244.1.10"])
    }
}
