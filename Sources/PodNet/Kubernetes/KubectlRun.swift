extension Pod {
    /// The pod `kubectl run NAME --image IMAGE` builds (before it is sent, as `--dry-run=client
    /// -o yaml` shows it): label `run=NAME`, one container named NAME, `dnsPolicy: ClusterFirst`.
    ///
    /// - Parameters:
    ///   - labels: replaces the default `run=NAME` label (`--labels`).
    ///   - port: `--port`, declared as the container's port.
    ///   - arguments: what follows `--`: the container's `args`, or its `command` when
    ///     `argumentsAreCommand` (`--command`).
    ///   - stdin, tty, leaveStdinOpen: `-i`, `-t`, `--leave-stdin-open`.
    public static func run(name: String, image: String, restartPolicy: RestartPolicy = .always, labels: [String: String]? = nil,
                           port: Int32? = nil, env: [EnvVar] = [], arguments: [String] = [], argumentsAreCommand: Bool = false,
                           stdin: Bool = false, tty: Bool = false, leaveStdinOpen: Bool = false) -> Pod {
        var container = Container(name: name, image: image, env: env)
        if argumentsAreCommand { container.command = arguments } else { container.args = arguments }
        if let port { container.ports = [ContainerPort(containerPort: port)] }
        if stdin {
            container.preservedFields["stdin"] = .bool(true)
            if !leaveStdinOpen { container.preservedFields["stdinOnce"] = .bool(true) }
        }
        if tty { container.preservedFields["tty"] = .bool(true) }
        return Pod(
            metadata: ObjectMeta(name: name, labels: labels ?? ["run": name]),
            spec: PodSpec(containers: [container], restartPolicy: restartPolicy, dnsPolicy: .clusterFirst)
        )
    }
}
