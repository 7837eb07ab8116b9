// The mesh's certificate issue for a new pod (issue 15, "Performance": < 5 ms): what the agent
// does when it admits a meshed pod — a P-256 key made, a certificate for the pod's SPIFFE
// identity signed by the lab's mesh CA (`MeshCertificates.issue`), and the pod's certificate
// directory written (`MeshCertificates.provision`: the key, the chain and the CA, each file
// replaced in one rename). N pods, median / p90 / max of each, in a temporary state root. No
// root, no lab.
//
//   mesh-cert-bench [--pods N]

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PodlabAgent
import PodNet

var pods = 200
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let flag = arguments.next() {
    guard flag == "--pods", let value = arguments.next(), let number = Int(value), number > 0 else {
        print("usage: mesh-cert-bench [--pods N]")
        exit(2)
    }
    pods = number
}

let root = FileManager.default.temporaryDirectory.appendingPathComponent("mesh-cert-bench-\(getpid())").path
try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: root) }
let paths = LabPaths(lab: "bench", stateRoot: root)
try FileManager.default.createDirectory(atPath: paths.directory, withIntermediateDirectories: true)

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

func summary(_ values: [Double]) -> String {
    let sorted = values.sorted()
    let median = sorted[sorted.count / 2], p90 = sorted[min(sorted.count - 1, sorted.count * 9 / 10)]
    return String(format: "median %.2f ms, p90 %.2f ms, max %.2f ms", median, p90, sorted.last ?? 0)
}

let clock = ContinuousClock()
let started = clock.now
let authority = try MeshCertificates.loadOrCreateAuthority(paths)
print(String(format: "mesh CA made and stored: %.2f ms", milliseconds(clock.now - started)))

var issued: [Double] = [], provisioned: [Double] = []
for index in 0..<pods {
    let identity = MeshIdentity(namespace: "ns\(index % 10)", serviceAccount: "sa\(index)")
    let issueStart = clock.now
    _ = try MeshCertificates.issue(identity, authority: authority)
    issued.append(milliseconds(clock.now - issueStart))
    let provisionStart = clock.now
    try MeshCertificates.provision(identity, podUID: UUID().uuidString.lowercased(), authority: authority, paths: paths)
    provisioned.append(milliseconds(clock.now - provisionStart))
}
print("certificate issue (key + signed certificate), \(pods) pods: \(summary(issued))")
print("certificate issue with the pod's files written, \(pods) pods: \(summary(provisioned))")
let target = provisioned.sorted()[provisioned.count / 2]
print(String(format: "certificate issue for a new pod (median, files written): %.2f ms (target < 5 ms: %@)", target, target < 5 ? "ok" : "MISS"))
