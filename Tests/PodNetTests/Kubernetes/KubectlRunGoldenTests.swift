import Testing
@testable import PodNet

@Suite("kubectl run --dry-run=client -o yaml")
struct KubectlRunGoldenTests {
    /// What `kubectl run nginx-ser --image nginx --restart=Never --dry-run=client -o yaml` prints.
    static let golden = """
        apiVersion: v1
        kind: Pod
        metadata:
          creationTimestamp: null
          labels:
            run: nginx-ser
          name: nginx-ser
        spec:
          containers:
          - image: nginx
            name: nginx-ser
            resources: {}
          dnsPolicy: ClusterFirst
          restartPolicy: Never
        status: {}

        """

    @Test("matches kubectl's output byte for byte")
    func golden() {
        let pod = Pod.run(name: "nginx-ser", image: "nginx", restartPolicy: .never)
        #expect(pod.yamlText == Self.golden)
    }

    @Test("the golden text reads back as the same pod and prints identically")
    func roundTrip() throws {
        let items = try Manifest.objects(in: Self.golden)
        #expect(items.count == 1)
        guard case let .success(.pod(pod))? = items.first?.result else {
            Issue.record("expected a pod, got \(String(describing: items.first?.result))")
            return
        }
        #expect(pod == Pod.run(name: "nginx-ser", image: "nginx", restartPolicy: .never))
        #expect(pod.yamlText == Self.golden)
    }

    @Test("the tutorial's default restart policy and extra flags")
    func variants() {
        let pod = Pod.run(name: "curl", image: "curlimages/curl", restartPolicy: .never, port: 8080,
                          env: [EnvVar(name: "MODE", value: "1")], arguments: ["curl", "http://10.244.1.2"],
                          argumentsAreCommand: true, stdin: true, tty: true)
        #expect(pod.yamlText == """
            apiVersion: v1
            kind: Pod
            metadata:
              creationTimestamp: null
              labels:
                run: curl
              name: curl
            spec:
              containers:
              - command:
                - curl
                - http://10.244.1.2
                env:
                - name: MODE
                  value: "1"
                image: curlimages/curl
                name: curl
                ports:
                - containerPort: 8080
                resources: {}
                stdin: true
                stdinOnce: true
                tty: true
              dnsPolicy: ClusterFirst
              restartPolicy: Never
            status: {}

            """)
    }
}
