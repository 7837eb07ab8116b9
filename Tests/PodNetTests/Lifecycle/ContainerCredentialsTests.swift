import Testing
@testable import PodNet

@Suite("Who a container runs as (securityContext)")
struct ContainerCredentialsTests {
    static func pod(_ podContext: JSONValue?, _ containerContext: JSONValue?) -> (Pod, Container) {
        var container = Container(name: "app", image: "busybox")
        if let containerContext { container.preservedFields["securityContext"] = containerContext }
        var pod = Pod(metadata: ObjectMeta(name: "p", namespace: "team", uid: "u-1"), spec: PodSpec(containers: [container]))
        if let podContext { pod.spec.preservedFields["securityContext"] = podContext }
        return (pod, container)
    }

    @Test("the container's ids win over the pod's; the image's root without any; supplemental groups after the primary", arguments: [
        (nil, nil, "uid=0 gid=0 groups=0"),
        (JSONValue.object(["runAsUser": .integer(1000)]), nil, "uid=1000 gid=0 groups=0"),
        (.object(["runAsUser": .integer(1000), "runAsGroup": .integer(3000), "supplementalGroups": .array([.integer(2000), .integer(3000)])]),
         nil, "uid=1000 gid=3000 groups=3000,2000"),
        (.object(["runAsUser": .integer(1000), "runAsGroup": .integer(3000)]), JSONValue.object(["runAsUser": .integer(2000)]),
         "uid=2000 gid=3000 groups=3000"),
        (nil, .object(["runAsGroup": .integer(5)]), "uid=0 gid=5 groups=5"),
    ] as [(JSONValue?, JSONValue?, String)])
    func resolve(podContext: JSONValue?, containerContext: JSONValue?, expected: String) throws {
        let (pod, container) = Self.pod(podContext, containerContext)
        #expect(try ContainerCredentials.resolve(pod: pod, container: container).description == expected)
    }

    @Test("runAsNonRoot refuses root with the kubelet's messages", arguments: [
        (JSONValue.object(["runAsNonRoot": .bool(true)]), nil,
         #"container has runAsNonRoot and image will run as root (pod: "p_team(u-1)", container: app)"#),
        (.object(["runAsNonRoot": .bool(true)]), JSONValue.object(["runAsUser": .integer(0)]),
         #"container's runAsUser breaks non-root policy (pod: "p_team(u-1)", container: app)"#),
    ] as [(JSONValue?, JSONValue?, String)])
    func nonRoot(podContext: JSONValue?, containerContext: JSONValue?, message: String) {
        let (pod, container) = Self.pod(podContext, containerContext)
        #expect(throws: ContainerCredentialsError(message: message)) { try ContainerCredentials.resolve(pod: pod, container: container) }
    }

    @Test("runAsNonRoot with a non-root user starts; the container's runAsNonRoot false wins over the pod's true")
    func nonRootAllowed() throws {
        let (pod, container) = Self.pod(.object(["runAsNonRoot": .bool(true), "runAsUser": .integer(7)]), nil)
        #expect(try ContainerCredentials.resolve(pod: pod, container: container).uid == 7)
        let (other, root) = Self.pod(.object(["runAsNonRoot": .bool(true)]), .object(["runAsNonRoot": .bool(false)]))
        #expect(try ContainerCredentials.resolve(pod: other, container: root) == .imageDefault)
    }
}
