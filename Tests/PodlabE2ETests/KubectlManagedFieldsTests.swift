import Foundation
import KernelTestSupport
import Testing

/// What the agent writes itself shows in `managedFields` as a cluster's components leave it:
/// the kubelet's pod status writes, kube-controller-manager's Deployments, ReplicaSets, their
/// pods and EndpointSlices, kube-apiserver's namespaces, the nodes and the events; a user's server-side apply after them
/// neither conflicts with them nor takes their fields.
@Suite("kubectl: managedFields of the agent's own writes", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct KubectlManagedFieldsTests {
    /// `manager/operation/subresource` of each entry, space-separated, in the served order.
    static func managers(_ kubectl: KubectlTests.Kubectl, _ target: [String], item: String = "") throws -> String {
        try kubectl.run(["get"] + target + ["-o", "jsonpath={range \(item).metadata.managedFields[*]}{.manager}/{.operation}/{.subresource} {end}"]).stdout
    }

    @Test("kubectl run, then the kubelet's status entry; apply --server-side after it; a Deployment's controllers; the API server's namespace",
          .enabled(if: !KubectlBinary.found.isEmpty, "no kubectl on this machine: scripts/install-deps installs Debian's kubernetes-client"),
          arguments: KubectlBinary.found)
    func agentWrites(binary: KubectlBinary) async throws {
        try await TestLab.with { lab in
            let kubectl = try KubectlTests.kubectl(binary, for: lab)
            defer { try? FileManager.default.removeItem(atPath: kubectl.cacheDirectory) }

            try kubectl.run(["run", "web", "--image", "nginx"])
            try await lab.eventually("web Running") { try kubectl.run(["get", "pod", "web", "-o", "jsonpath={.status.phase}"]).stdout == "Running" }
            #expect(try Self.managers(kubectl, ["pod", "web"]) == "kubectl-run/Update/ kubelet/Update/status ")
            if !binary.version.hasPrefix("v1.20") {
                // kubectl ≥ 1.21 hides the field unless asked; 1.20 always prints it.
                #expect(try !kubectl.run(["get", "pod", "web", "-o", "yaml"]).stdout.contains("managedFields"))
            }
            let yaml = try kubectl.run(["get", "pod", "web", "-o", "yaml"] + (binary.version.hasPrefix("v1.20") ? [] : ["--show-managed-fields"])).stdout
            for line in ["    manager: kubelet\n    operation: Update\n    subresource: status\n", "      f:status:\n", "        f:phase: {}\n",
                         "        f:podIP: {}\n", "        f:containerStatuses: {}\n", "        f:podIPs:\n          .: {}\n",
                         "          k:{\"type\":\"Ready\"}:\n            .: {}\n"] {
                #expect(yaml.contains(line), "no \(line.debugDescription) in\n\(yaml)")
            }
            let kubeletStatus = try kubectl.run(["get", "pod", "web", "-o", #"jsonpath={.metadata.managedFields[?(@.manager=="kubelet")].fieldsV1}"#]).stdout
            #expect(!kubeletStatus.contains("f:spec") && !kubeletStatus.contains("f:metadata") && !kubeletStatus.contains("f:qosClass"), "\(kubeletStatus)")

            // A user's server-side apply: no conflict with the status owner, whose entry stays.
            let file = kubectl.cacheDirectory + "/web.yaml"
            try """
                apiVersion: v1
                kind: Pod
                metadata:
                  name: web
                  labels:
                    run: web
                    tier: front
                spec:
                  containers:
                  - name: web
                    image: nginx
                """.write(toFile: file, atomically: true, encoding: .utf8)
            #expect(try kubectl.run(["apply", "--server-side", "-f", file]).stdout == "pod/web serverside-applied\n")
            #expect(try Self.managers(kubectl, ["pod", "web"]) == "kubectl/Apply/ kubectl-run/Update/ kubelet/Update/status ")
            #expect(try kubectl.run(["get", "pod", "web", "-o", "jsonpath={.metadata.labels.tier}"]).stdout == "front")
            #expect(try kubectl.run(["get", "pod", "web", "-o", #"jsonpath={.metadata.managedFields[?(@.manager=="kubelet")].fieldsV1}"#]).stdout
                        == kubeletStatus)

            // The controllers: a Deployment's status, its ReplicaSet and pod, a Service's slice.
            try kubectl.run(["create", "deployment", "api", "--image", "nginx"])
            try kubectl.run(["create", "service", "clusterip", "api", "--tcp=80:80"])
            try await lab.eventually("api available") {
                try kubectl.run(["get", "deployment", "api", "-o", "jsonpath={.status.availableReplicas}"]).stdout == "1"
            }
            let deployment = try Self.managers(kubectl, ["deployment", "api"])
            #expect(deployment.contains("kubectl-create/Update/ "), "\(deployment)")
            #expect(deployment.contains("kube-controller-manager/Update/ ") && deployment.contains("kube-controller-manager/Update/status "), "\(deployment)")
            let replicaSet = try Self.managers(kubectl, ["replicasets", "-l", "app=api"], item: ".items[0]")
            #expect(replicaSet == "kube-controller-manager/Update/ kube-controller-manager/Update/status ", "\(replicaSet)")
            let pod = try Self.managers(kubectl, ["pods", "-l", "app=api"], item: ".items[0]")
            #expect(pod == "kube-controller-manager/Update/ kubelet/Update/status ", "\(pod)")
            try await lab.eventually("api's slice has its endpoint") {
                try kubectl.run(["get", "endpointslices", "-l", "kubernetes.io/service-name=api", "-o", "jsonpath={.items[0].endpoints[*].addresses[0]}"]).stdout != ""
            }
            let slice = try Self.managers(kubectl, ["endpointslices", "-l", "kubernetes.io/service-name=api"], item: ".items[0]")
            #expect(slice == "kube-controller-manager/Update/ ", "\(slice)")
            #expect(try Self.managers(kubectl, ["namespace", "kube-system"]) == "kube-apiserver/Update/ ")

            // A node: registered by its kubelet, its pod CIDR kube-controller-manager's, its status the kubelet's.
            #expect(try Self.managers(kubectl, ["node", "n1"]) == "kube-controller-manager/Update/ kubelet/Update/ kubelet/Update/status ")
            let cidr = try kubectl.run(["get", "node", "n1", "-o", "jsonpath={.metadata.managedFields[0].fieldsV1.f:spec}"]).stdout
            #expect(cidr.contains("f:podCIDR"), "\(cidr)")
            // Events: each its reporter's.
            let scheduled = try Self.managers(kubectl, ["events", "--field-selector", "reason=Scheduled,involvedObject.name=web"], item: ".items[0]")
            #expect(scheduled == "kube-scheduler/Update/ ", "\(scheduled)")
            let started = try Self.managers(kubectl, ["events", "--field-selector", "reason=Started,involvedObject.name=web"], item: ".items[0]")
            #expect(started == "kubelet/Update/ ", "\(started)")
            let scaled = try Self.managers(kubectl, ["events", "--field-selector", "reason=ScalingReplicaSet"], item: ".items[0]")
            #expect(scaled == "kube-controller-manager/Update/ ", "\(scaled)")
        }
    }
}
