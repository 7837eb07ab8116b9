/// Kubernetes' validation of a container's probes (`validateLivenessProbe`,
/// `validateReadinessProbe`, `validateStartupProbe`, `validateProbe`, `validateHandler`), with
/// its field paths and messages, on probes already defaulted.
enum ProbeValidation {
    static func validate(_ container: Container, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        for type in [ContainerProbeType.liveness, .readiness, .startup] {
            guard let probe = container.probe(type) else { continue }
            let probePath = path.child(type.field)
            errors += validate(probe, path: probePath)
            switch type {
            case .readiness:
                if let grace = probe.terminationGracePeriodSeconds {
                    errors.append(.invalid(probePath.child("terminationGracePeriodSeconds"), .integer(grace), "must not be set for readinessProbes"))
                }
            case .liveness, .startup:
                if probe.successThreshold != 1 {
                    errors.append(.invalid(probePath.child("successThreshold"), .integer(Int64(probe.successThreshold)), "must be 1"))
                }
            }
        }
        return errors
    }

    /// `validateProbe`: one handler, counts not negative, a positive grace period.
    static func validate(_ probe: ContainerProbe, path: FieldPath) -> [FieldError] {
        var errors = validateHandler(probe, path: path)
        let counts: [(String, Int32)] = [
            ("initialDelaySeconds", probe.initialDelaySeconds), ("timeoutSeconds", probe.timeoutSeconds),
            ("periodSeconds", probe.periodSeconds), ("successThreshold", probe.successThreshold),
            ("failureThreshold", probe.failureThreshold),
        ]
        for (field, value) in counts where value < 0 {
            errors.append(.invalid(path.child(field), .integer(Int64(value)), "must be greater than or equal to 0"))
        }
        if let grace = probe.terminationGracePeriodSeconds, grace <= 0 {
            errors.append(.invalid(path.child("terminationGracePeriodSeconds"), .integer(grace), "must be greater than 0"))
        }
        return errors
    }

    /// `validateHandler`: exactly one of `exec`, `httpGet`, `tcpSocket`, `grpc`, each valid.
    static func validateHandler(_ probe: ContainerProbe, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        var handlers = 0
        func counted(_ field: String) -> Bool {
            guard handlers == 0 else {
                errors.append(.forbidden(path.child(field), "may not specify more than 1 handler type"))
                return false
            }
            handlers += 1
            return true
        }
        if let exec = probe.exec, counted("exec"), exec.command.isEmpty {
            errors.append(.required(path.child("exec").child("command")))
        }
        if let http = probe.httpGet, counted("httpGet") {
            let httpPath = path.child("httpGet")
            if http.path.isEmpty { errors.append(.required(httpPath.child("path"))) }
            errors += validatePort(http.port, path: httpPath.child("port"))
            if ![HTTPGetAction.http, HTTPGetAction.https].contains(http.scheme) {
                errors.append(.notSupported(httpPath.child("scheme"), http.scheme, supported: [HTTPGetAction.http, HTTPGetAction.https]))
            }
            for header in http.httpHeaders where !isHTTPHeaderName(header.name) {
                errors.append(.invalid(httpPath.child("httpHeaders"), .string(header.name), KubernetesNames.regexError(
                    "a valid HTTP header must consist of alphanumeric characters or '-'", format: "[-A-Za-z0-9]+", examples: ["X-Header-Name"])))
            }
        }
        if let tcp = probe.tcpSocket, counted("tcpSocket") {
            errors += validatePort(tcp.port, path: path.child("tcpSocket").child("port"))
        }
        if let grpc = probe.grpc, counted("grpc") {
            var port: Int64 = 0
            if case let .integer(number)? = grpc["port"] { port = number }
            if !(1...65535).contains(port) {
                errors.append(.invalid(path.child("grpc").child("port"), .integer(port), "must be between 1 and 65535, inclusive"))
            }
        }
        if handlers == 0 { errors.append(.required(path, "must specify a handler type")) }
        return errors
    }

    /// `ValidatePortNumOrName`: a number from 1 to 65535, or a valid port name.
    static func validatePort(_ port: PortNumberOrName?, path: FieldPath) -> [FieldError] {
        switch port ?? .number(0) {
        case let .number(number):
            return (1...65535).contains(number) ? [] : [.invalid(path, .integer(Int64(number)), "must be between 1 and 65535, inclusive")]
        case let .name(name):
            return KubernetesNames.portNameErrors(name).map { .invalid(path, .string(name), $0) }
        }
    }

    /// `IsHTTPHeaderName`: `[-A-Za-z0-9]+`.
    static func isHTTPHeaderName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { $0 == UInt8(ascii: "-") || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }
    }
}
