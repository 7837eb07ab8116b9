/// A port given as a number or as the name of one of the container's ports (Kubernetes'
/// `IntOrString` in `httpGet.port` and `tcpSocket.port`). A quoted number stays a name, as in
/// Kubernetes, and fails validation as one.
public enum PortNumberOrName: Hashable, Sendable, CustomStringConvertible {
    case number(Int32)
    case name(String)

    /// Reads the raw value of an `IntOrString` field.
    static func read(_ value: JSONValue?, path: FieldPath) throws(ObjectDecodingError) -> PortNumberOrName? {
        switch value {
        case nil, .null?: return nil
        case let .string(name)?: return .name(name)
        case let .integer(number)?:
            guard let narrow = Int32(exactly: number) else { throw .typeMismatch(field: path, expected: "int32", found: "number \(number)") }
            return .number(narrow)
        case let .number(number)? where number.rounded() == number && abs(number) <= Double(Int32.max):
            return .number(Int32(number))
        case let other?:
            throw .typeMismatch(field: path, expected: "int or string", found: other.typeName)
        }
    }

    var json: JSONValue {
        switch self {
        case let .number(number): .integer(Int64(number))
        case let .name(name): .string(name)
        }
    }

    public var description: String {
        switch self {
        case let .number(number): "\(number)"
        case let .name(name): name
        }
    }

    /// The port number: the number itself, or the `containerPort` of the container's port of
    /// that name (kubelet's `ResolveContainerPort`); nil when the container has no such port.
    public func resolved(in container: Container) -> Int32? {
        switch self {
        case let .number(number): number
        case let .name(name): container.ports.first { $0.name == name }?.containerPort
        }
    }
}

/// `exec`: a command run in the container; exit status 0 is success.
public struct ExecAction: JSONObjectCodable, Hashable {
    public var command: [String]

    public init(command: [String]) { self.command = command }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        command = try reader.stringArray("command") ?? []
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("command", omittingEmpty: command)
    }
}

/// A header of an HTTP probe's request.
public struct HTTPHeader: JSONObjectCodable, Hashable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        name = try reader.string("name") ?? ""
        value = try reader.string("value") ?? ""
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("name", .string(name))
        writer.set("value", .string(value))
    }
}

/// `httpGet`: a GET to the pod's IP (or `host`); a status from 200 to 399 is success.
public struct HTTPGetAction: JSONObjectCodable, Hashable {
    public var path: String
    public var port: PortNumberOrName?
    /// The address to connect to; the pod's IP when empty.
    public var host: String
    /// `HTTP` or `HTTPS`; defaulted to `HTTP`.
    public var scheme: String
    public var httpHeaders: [HTTPHeader]

    public static let http = "HTTP"
    public static let https = "HTTPS"

    public init(path: String = "", port: PortNumberOrName? = nil, host: String = "", scheme: String = "", httpHeaders: [HTTPHeader] = []) {
        self.path = path
        self.port = port
        self.host = host
        self.scheme = scheme
        self.httpHeaders = httpHeaders
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        path = try reader.string("path") ?? ""
        port = try PortNumberOrName.read(reader.value("port"), path: reader.path.child("port"))
        host = try reader.string("host") ?? ""
        scheme = try reader.string("scheme") ?? ""
        httpHeaders = try reader.objects("httpHeaders")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("path", omittingEmpty: path)
        writer.set("port", port?.json ?? .integer(0))
        writer.set("host", omittingEmpty: host)
        writer.set("scheme", omittingEmpty: scheme)
        writer.set("httpHeaders", omittingEmpty: httpHeaders)
    }
}

/// `tcpSocket`: a TCP connection to the port; an established connection is success.
public struct TCPSocketAction: JSONObjectCodable, Hashable {
    public var port: PortNumberOrName?
    /// The address to connect to; the pod's IP when empty.
    public var host: String

    public init(port: PortNumberOrName? = nil, host: String = "") {
        self.port = port
        self.host = host
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        port = try PortNumberOrName.read(reader.value("port"), path: reader.path.child("port"))
        host = try reader.string("host") ?? ""
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("port", port?.json ?? .integer(0))
        writer.set("host", omittingEmpty: host)
    }
}

/// A container probe (`livenessProbe`, `readinessProbe`, `startupProbe`): one handler and the
/// kubelet's timing. The counts are 0 when not given; `Pod.applyingDefaults` fills in
/// Kubernetes' defaults (`timeoutSeconds` 1, `periodSeconds` 10, `successThreshold` 1,
/// `failureThreshold` 3), as the API server does on create.
public struct ContainerProbe: JSONObjectCodable, Hashable {
    public var exec: ExecAction?
    public var httpGet: HTTPGetAction?
    public var tcpSocket: TCPSocketAction?
    /// `grpc`, kept as written: podlab refuses it (see `PodSupport`).
    public var grpc: JSONValue?
    public var initialDelaySeconds: Int32
    public var timeoutSeconds: Int32
    public var periodSeconds: Int32
    public var successThreshold: Int32
    public var failureThreshold: Int32
    /// Overrides the pod's grace period when a failed probe kills the container.
    public var terminationGracePeriodSeconds: Int64?

    public static let defaultTimeoutSeconds: Int32 = 1
    public static let defaultPeriodSeconds: Int32 = 10
    public static let defaultSuccessThreshold: Int32 = 1
    public static let defaultFailureThreshold: Int32 = 3

    public init(exec: ExecAction? = nil, httpGet: HTTPGetAction? = nil, tcpSocket: TCPSocketAction? = nil, grpc: JSONValue? = nil,
                initialDelaySeconds: Int32 = 0, timeoutSeconds: Int32 = 0, periodSeconds: Int32 = 0, successThreshold: Int32 = 0,
                failureThreshold: Int32 = 0, terminationGracePeriodSeconds: Int64? = nil) {
        self.exec = exec
        self.httpGet = httpGet
        self.tcpSocket = tcpSocket
        self.grpc = grpc
        self.initialDelaySeconds = initialDelaySeconds
        self.timeoutSeconds = timeoutSeconds
        self.periodSeconds = periodSeconds
        self.successThreshold = successThreshold
        self.failureThreshold = failureThreshold
        self.terminationGracePeriodSeconds = terminationGracePeriodSeconds
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        exec = try reader.object("exec")
        httpGet = try reader.object("httpGet")
        tcpSocket = try reader.object("tcpSocket")
        grpc = reader.value("grpc").flatMap { $0 == .null ? nil : $0 }
        if let grpc { reader.recordUnknownFields(in: grpc, at: reader.path.child("grpc"), schema: .fields(["port", "service"])) }
        initialDelaySeconds = try reader.int32("initialDelaySeconds") ?? 0
        timeoutSeconds = try reader.int32("timeoutSeconds") ?? 0
        periodSeconds = try reader.int32("periodSeconds") ?? 0
        successThreshold = try reader.int32("successThreshold") ?? 0
        failureThreshold = try reader.int32("failureThreshold") ?? 0
        terminationGracePeriodSeconds = try reader.int64("terminationGracePeriodSeconds")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("exec", omittingNil: exec)
        writer.set("httpGet", omittingNil: httpGet)
        writer.set("tcpSocket", omittingNil: tcpSocket)
        if let grpc { writer.set("grpc", grpc) }
        writer.set("initialDelaySeconds", omittingZero: Int64(initialDelaySeconds))
        writer.set("timeoutSeconds", omittingZero: Int64(timeoutSeconds))
        writer.set("periodSeconds", omittingZero: Int64(periodSeconds))
        writer.set("successThreshold", omittingZero: Int64(successThreshold))
        writer.set("failureThreshold", omittingZero: Int64(failureThreshold))
        writer.set("terminationGracePeriodSeconds", omittingNil: terminationGracePeriodSeconds)
    }

    /// The probe with the API server's defaults filled in (`SetDefaults_Probe`,
    /// `SetDefaults_HTTPGetAction`).
    public var defaulted: ContainerProbe {
        var probe = self
        if probe.timeoutSeconds == 0 { probe.timeoutSeconds = ContainerProbe.defaultTimeoutSeconds }
        if probe.periodSeconds == 0 { probe.periodSeconds = ContainerProbe.defaultPeriodSeconds }
        if probe.successThreshold == 0 { probe.successThreshold = ContainerProbe.defaultSuccessThreshold }
        if probe.failureThreshold == 0 { probe.failureThreshold = ContainerProbe.defaultFailureThreshold }
        if probe.httpGet != nil {
            if probe.httpGet?.path.isEmpty == true { probe.httpGet?.path = "/" }
            if probe.httpGet?.scheme.isEmpty == true { probe.httpGet?.scheme = HTTPGetAction.http }
        }
        return probe
    }
}

/// The three probes of a container, by the kubelet's names for them.
public enum ContainerProbeType: String, Hashable, Sendable, CaseIterable {
    case liveness = "Liveness"
    case readiness = "Readiness"
    case startup = "Startup"

    /// The field of `Container` that holds it.
    public var field: String {
        switch self {
        case .liveness: "livenessProbe"
        case .readiness: "readinessProbe"
        case .startup: "startupProbe"
        }
    }
}

extension Container {
    /// The container's probe of that type, if it has one.
    public func probe(_ type: ContainerProbeType) -> ContainerProbe? {
        switch type {
        case .liveness: livenessProbe
        case .readiness: readinessProbe
        case .startup: startupProbe
        }
    }

    /// True when the container has any probe.
    public var hasProbes: Bool { livenessProbe != nil || readinessProbe != nil || startupProbe != nil }
}
