import PodNet
import Testing

@Suite("Namespace names of labs, nodes and pods")
struct LabNamespaceNamesTests {
    /// Every object a set of labs could hold, with names chosen to collide under a scheme that
    /// joins fields with '-' or '.': lab `v1` with pod `u`, lab `v1-pod` (whose underlay was
    /// `v1-pod-u`), pod `other.o1` in `default` and pod `o1` in `other`, nodes named like pods.
    static let labs = ["v1", "v1-pod", "v1-pod-u", "a", "a-n1", "podlab"]
    static let kubernetesNamespaces = ["default", "other", "pod", "u", "default-o1", "n1"]
    static let podNames = ["u", "o1", "other.o1", "default.o1", "pod-u", "n1", "web-1", "a.b.c", "x" + String(repeating: "y", count: 200)]
    static let nodeNames = ["n1", "u", "pod", "pod-u", "n" + String(repeating: "1", count: 62)]

    static func allNames() -> [(object: String, name: String)] {
        var result: [(String, String)] = []
        for lab in labs {
            result.append(("\(lab) underlay", LabNamespaceNames.underlay(lab: lab)))
            for node in nodeNames { result.append(("\(lab) node \(node)", LabNamespaceNames.node(lab: lab, node: node))) }
            for namespace in kubernetesNamespaces {
                for pod in podNames {
                    result.append(("\(lab) pod \(namespace)/\(pod)", LabNamespaceNames.pod(lab: lab, namespace: namespace, name: pod)))
                }
            }
        }
        return result
    }

    @Test("no two objects of any labs share a namespace name")
    func injective() {
        var seen: [String: String] = [:]
        for (object, name) in Self.allNames() {
            if let other = seen[name] { Issue.record("\(object) and \(other) both map to \(name)") }
            seen[name] = object
        }
    }

    @Test("every name is a valid namespace name of at most 64 bytes, starting with its lab's name and '_'")
    func shape() {
        for (object, name) in Self.allNames() {
            #expect(name.utf8.count <= LabNamespaceNames.maximumLength, "\(object): \(name)")
            #expect(name.allSatisfy { $0.isLetter || $0.isNumber || "-_.".contains($0) }, "\(object): \(name)")
            let lab = String(object.prefix { $0 != " " })
            #expect(name.hasPrefix(lab + "_"), "\(object): \(name)")
        }
    }

    @Test("no lab's pod prefix is the start of another lab's namespace names")
    func prefixes() {
        for lab in Self.labs {
            let prefix = LabNamespaceNames.podPrefix(lab: lab)
            for (object, name) in Self.allNames() where name.hasPrefix(prefix) {
                #expect(object.hasPrefix(lab + " pod "), "\(name) (\(object)) looks like a pod of lab \(lab)")
            }
        }
    }

    @Test("short names read as they are; long ones keep a readable start and end in a hash", arguments: [
        (LabNamespaceNames.underlay(lab: "v1"), "v1_underlay"),
        (LabNamespaceNames.node(lab: "v1", node: "n2"), "v1_node_n2"),
        (LabNamespaceNames.pod(lab: "v1", namespace: "default", name: "u"), "v1_pod_default_u"),
        (LabNamespaceNames.pod(lab: "v1", namespace: "other", name: "o1"), "v1_pod_other_o1"),
        (LabNamespaceNames.pod(lab: "v1", namespace: "default", name: "other.o1"), "v1_pod_default_other.o1"),
    ])
    func readable(name: String, expected: String) {
        #expect(name == expected)
    }

    @Test("a cut name has one field more than any full name of its kind")
    func cut() {
        let long = LabNamespaceNames.pod(lab: "lab", namespace: "default", name: String(repeating: "w", count: 100))
        #expect(long.utf8.count == LabNamespaceNames.maximumLength)
        #expect(long.hasPrefix("lab_pod_default_www"))
        #expect(long.split(separator: "_").count == 5)
        #expect(LabNamespaceNames.pod(lab: "lab", namespace: "default", name: "w").split(separator: "_").count == 4)
        #expect(long != LabNamespaceNames.pod(lab: "lab", namespace: "default", name: String(repeating: "w", count: 101)))
    }

    @Test("the label names the lab and its id")
    func label() {
        #expect(LabNamespaceNames.label(lab: "v1", id: "0123abcd") == "podlab lab=v1 id=0123abcd")
    }
}
