/// `podlab test --scenario services`: a Deployment of echo servers behind a Service, rolled
/// out while a client pod asks the Service in a loop. The objects it makes, and what the
/// client's log says about its requests.
public enum ServicesScenario {
    public static let name = "services"
    public static let replicas = 3
    /// The Deployment's and the Service's name (the client asks `http://web.<namespace>/`).
    public static let serviceName = "web"
    public static let clientName = "client"
    /// The container port of the echo servers.
    public static let targetPort: Int64 = 8080
    /// The template's environment variable whose value a rollout changes.
    public static let versionVariable = "SCENARIO_VERSION"

    /// A namespace of its own per run: `podlab-services-<suffix>`.
    public static func namespace(suffix: String) -> String { "podlab-services-\(suffix)" }

    /// The Deployment: echo servers, ready once they answer HTTP, rolled with the default
    /// strategy (one pod more at a time, none unavailable, for 3 replicas). Each new pod serves
    /// 2 s (`minReadySeconds`) before the next old one goes, so the rollout lasts long enough
    /// for a few hundred requests.
    public static func deployment(namespace: String, version: Int) -> JSONValue {
        [
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": ["name": .string(serviceName), "namespace": .string(namespace)],
            "spec": [
                "replicas": .integer(Int64(replicas)),
                "minReadySeconds": 2,
                "selector": ["matchLabels": ["app": .string(serviceName)]],
                "template": [
                    "metadata": ["labels": ["app": .string(serviceName)]],
                    "spec": ["containers": [[
                        "name": "echo", "image": "podlab/echo",
                        "env": [["name": .string(versionVariable), "value": .string(String(version))]],
                        "ports": [["name": "http", "containerPort": .integer(targetPort)]],
                        "readinessProbe": ["httpGet": ["path": "/", "port": .integer(targetPort)], "periodSeconds": 1],
                    ]]],
                ],
            ],
        ]
    }

    public static func service(namespace: String) -> JSONValue {
        [
            "apiVersion": "v1", "kind": "Service",
            "metadata": ["name": .string(serviceName), "namespace": .string(namespace)],
            "spec": ["selector": ["app": .string(serviceName)], "ports": [["name": "http", "port": 80, "targetPort": "http"]]],
        ]
    }

    /// The client's loop: a new connection per request (the built-in curl), alternately to the
    /// ClusterIP and to the Service's DNS name, until `stopFile` exists (containers share the
    /// host's file system). One line per request: curl's exit status, then the answer. It
    /// counts from the first answer by each URL on: pods ready before the rules of the
    /// client's node carry them, or a DNS name not served yet, are no failure of a rollout.
    public static func clientScript(clusterIP: String, namespace: String, stopFile: String) -> String {
        let urls = "http://\(clusterIP)/ http://\(serviceName).\(namespace)/"
        return "for url in \(urls); do until curl -s -m 1 -o /dev/null \"$url\"; do sleep 0.2; done; done; "
            + "while [ ! -e \(stopFile) ]; do for url in \(urls); do "
            + "out=$(curl -s -m 5 \"$url\"); echo \"$? $out\"; done; done; echo \(Tally.finishedLine)"
    }

    public static func client(namespace: String, clusterIP: String, stopFile: String) -> JSONValue {
        [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": ["name": .string(clientName), "namespace": .string(namespace)],
            "spec": [
                "restartPolicy": "Never",
                "containers": [[
                    "name": "client", "image": "curl",
                    "command": ["sh", "-c", .string(clientScript(clusterIP: clusterIP, namespace: namespace, stopFile: stopFile))],
                ]],
            ],
        ]
    }

    /// The client's requests, read from its log.
    public struct Tally: Hashable, Sendable {
        /// The line the client prints when it stops.
        public static let finishedLine = "finished"

        public var total = 0
        /// The lines of the requests that failed (curl's status, then what came).
        public var failed: [String] = []
        /// Answers per pod (the echo server's `hostname`).
        public var answers: [String: Int] = [:]
        /// The client printed its last line.
        public var finished = false

        /// A request succeeded when curl exited 0 and the answer is the echo server's JSON
        /// naming its pod.
        public init(log: String) {
            for line in log.split(separator: "\n", omittingEmptySubsequences: true) {
                if line == Self.finishedLine { finished = true; continue }
                total += 1
                guard line.hasPrefix("0 {"), let name = line.range(of: "\"hostname\":\"").flatMap({ start in
                    line[start.upperBound...].firstIndex(of: "\"").map { String(line[start.upperBound..<$0]) }
                }), !name.isEmpty else {
                    failed.append(String(line))
                    continue
                }
                answers[name, default: 0] += 1
            }
        }
    }
}
