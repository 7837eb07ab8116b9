/// What the node agent observed about one container (`status.containerStatuses[]`).
public struct ContainerStatus: JSONObjectCodable, Hashable {
    public var name: String
    /// The current state.
    public var state: ContainerState
    /// The state of the previous run (its exit), after a restart.
    public var lastState: ContainerState
    /// True when the container runs and its readiness probe, if any, succeeded (after its
    /// startup probe, if any).
    public var ready: Bool
    /// True once the container has started (and its startup probe, if any, succeeded).
    public var started: Bool?
    /// How often the container was restarted.
    public var restartCount: Int32
    public var image: String
    public var imageID: String
    public var containerID: String
    public var preservedFields: [String: JSONValue]

    public static let unmodeledFields: Set<String> = [
        "allocatedResources", "resources", "volumeMounts", "user", "allocatedResourcesStatus", "stopSignal",
    ]

    public init(name: String, state: ContainerState = ContainerState(), lastState: ContainerState = ContainerState(),
                ready: Bool = false, started: Bool? = nil, restartCount: Int32 = 0, image: String = "", imageID: String = "",
                containerID: String = "") {
        self.name = name
        self.state = state
        self.lastState = lastState
        self.ready = ready
        self.started = started
        self.restartCount = restartCount
        self.image = image
        self.imageID = imageID
        self.containerID = containerID
        self.preservedFields = [:]
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        name = try reader.string("name") ?? ""
        state = try reader.object("state") ?? ContainerState()
        lastState = try reader.object("lastState") ?? ContainerState()
        ready = try reader.bool("ready") ?? false
        started = try reader.bool("started")
        restartCount = try reader.int32("restartCount") ?? 0
        image = try reader.string("image") ?? ""
        imageID = try reader.string("imageID") ?? ""
        containerID = try reader.string("containerID") ?? ""
        preservedFields = reader.preservedFields(Self.unmodeledFields)
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("name", .string(name))
        writer.set("state", state.json)
        writer.set("lastState", lastState.json)
        writer.set("ready", .bool(ready))
        writer.set("started", omittingNil: started)
        writer.set("restartCount", .integer(Int64(restartCount)))
        writer.set("image", .string(image))
        writer.set("imageID", .string(imageID))
        writer.set("containerID", omittingEmpty: containerID)
        writer.merge(preservedFields)
    }
}

/// The state of a container: at most one of `waiting`, `running`, `terminated` is set; none
/// means the state is not known (`{}`).
public struct ContainerState: JSONObjectCodable, Hashable {
    public var waiting: Waiting?
    public var running: Running?
    public var terminated: Terminated?

    public init(waiting: Waiting? = nil, running: Running? = nil, terminated: Terminated? = nil) {
        self.waiting = waiting
        self.running = running
        self.terminated = terminated
    }

    /// A container waiting to (re)start, with the reason (`ContainerCreating`, `CrashLoopBackOff`...).
    public static func waiting(reason: String, message: String = "") -> ContainerState {
        ContainerState(waiting: Waiting(reason: reason, message: message))
    }

    /// A running container.
    public static func running(startedAt: Timestamp?) -> ContainerState {
        ContainerState(running: Running(startedAt: startedAt))
    }

    /// An exited container.
    public static func terminated(_ terminated: Terminated) -> ContainerState {
        ContainerState(terminated: terminated)
    }

    /// Not yet started (`ContainerCreating`), or back-off before a restart (`CrashLoopBackOff`).
    public struct Waiting: JSONObjectCodable, Hashable {
        public var reason: String
        public var message: String

        public init(reason: String = "", message: String = "") {
            self.reason = reason
            self.message = message
        }

        public init(from reader: ObjectReader) throws(ObjectDecodingError) {
            reason = try reader.string("reason") ?? ""
            message = try reader.string("message") ?? ""
            reader.rejectUnreadFields()
        }

        public func write(to writer: inout ObjectWriter) {
            writer.set("reason", omittingEmpty: reason)
            writer.set("message", omittingEmpty: message)
        }
    }

    public struct Running: JSONObjectCodable, Hashable {
        public var startedAt: Timestamp?

        public init(startedAt: Timestamp? = nil) { self.startedAt = startedAt }

        public init(from reader: ObjectReader) throws(ObjectDecodingError) {
            startedAt = try reader.timestamp("startedAt")
            reader.rejectUnreadFields()
        }

        public func write(to writer: inout ObjectWriter) {
            writer.set("startedAt", nullable: startedAt)
        }
    }

    public struct Terminated: JSONObjectCodable, Hashable {
        public var exitCode: Int32
        /// The signal that ended the process, 0 if it exited by itself.
        public var signal: Int32
        /// `Completed` for exit code 0, `Error` otherwise (or a more specific reason).
        public var reason: String
        public var message: String
        public var startedAt: Timestamp?
        public var finishedAt: Timestamp?
        public var containerID: String

        public init(exitCode: Int32, signal: Int32 = 0, reason: String = "", message: String = "",
                    startedAt: Timestamp? = nil, finishedAt: Timestamp? = nil, containerID: String = "") {
            self.exitCode = exitCode
            self.signal = signal
            self.reason = reason
            self.message = message
            self.startedAt = startedAt
            self.finishedAt = finishedAt
            self.containerID = containerID
        }

        public init(from reader: ObjectReader) throws(ObjectDecodingError) {
            exitCode = try reader.int32("exitCode") ?? 0
            signal = try reader.int32("signal") ?? 0
            reason = try reader.string("reason") ?? ""
            message = try reader.string("message") ?? ""
            startedAt = try reader.timestamp("startedAt")
            finishedAt = try reader.timestamp("finishedAt")
            containerID = try reader.string("containerID") ?? ""
            reader.rejectUnreadFields()
        }

        public func write(to writer: inout ObjectWriter) {
            writer.set("exitCode", .integer(Int64(exitCode)))
            writer.set("signal", omittingZero: Int64(signal))
            writer.set("reason", omittingEmpty: reason)
            writer.set("message", omittingEmpty: message)
            writer.set("startedAt", nullable: startedAt)
            writer.set("finishedAt", nullable: finishedAt)
            writer.set("containerID", omittingEmpty: containerID)
        }
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        waiting = try reader.object("waiting")
        running = try reader.object("running")
        terminated = try reader.object("terminated")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("waiting", omittingNil: waiting)
        writer.set("running", omittingNil: running)
        writer.set("terminated", omittingNil: terminated)
    }
}
