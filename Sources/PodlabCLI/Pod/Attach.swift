#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import Netns
import NIOCore
import PodNet

/// `podlab attach POD [-c C] [-i] [-t]`: connects this terminal to the process a container
/// runs (its stdout and stderr, and with `-i` its stdin), as `kubectl attach` does. Unlike
/// `exec`, no new process starts: the container's own process reads what is typed, which
/// takes a container with `stdin: true` (`podlab run -i` makes one).
public struct Attach: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "attach",
        abstract: "Attach to a running container.",
        discussion: """
            Examples:
              podlab attach mypod
              podlab attach mypod -c shell -i -t
            """)

    @OptionGroup public var scope: ScopeOptions

    /// The pod, the container and the streams (`-i`, `-t`, `-q`), as `attach` and `exec` share them.
    @OptionGroup public var session: ContainerSessionOptions

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        let name = try ResourceName.pod(session.pod)
        let namespace = scope.resolvedNamespace
        let client = scope.client(context)
        let podObject = try await client.get(Pod.self, APIPath.pod(namespace, name))
        if let phase = podObject.status.phase, phase.isTerminal {
            throw CLIError("cannot attach a container in a completed pod; current phase is \(phase.rawValue)")
        }
        let chosen = try Self.container(session.container, of: podObject, quiet: session.quiet, context: context)
        try await Self.session(client: client, namespace: namespace, pod: name, container: chosen, stdin: session.stdin, tty: session.tty,
                               quiet: session.quiet, context: context)
        return 0
    }

    /// The container to attach to, as kubectl picks it: the one asked for, else the one the
    /// `kubectl.kubernetes.io/default-container` annotation names, else the first (saying so
    /// when there are several).
    static func container(_ requested: String?, of pod: Pod, quiet: Bool, context: CommandContext) throws -> Container {
        if let requested {
            guard let found = pod.spec.containers.first(where: { $0.name == requested }) else {
                throw CLIError("cannot attach to the container: container \(requested) not found")
            }
            return found
        }
        if let annotated = pod.metadata.annotations["kubectl.kubernetes.io/default-container"],
           let found = pod.spec.containers.first(where: { $0.name == annotated }) {
            return found
        }
        guard let first = pod.spec.containers.first else { throw CLIError("cannot attach to the container: pod \(pod.metadata.name) has no containers") }
        if pod.spec.containers.count > 1, !quiet {
            context.stderr.line("Defaulted container \"\(first.name)\" out of: \(pod.spec.containers.map(\.name).joined(separator: ", "))")
        }
        return first
    }

    /// An attach session as kubectl's attach runs one once it has its container: the terminal
    /// settled (`AttachTerminal`), the prompt hint, the session, then how to come back.
    static func session(client: APIClient, namespace: String, pod: String, container: Container, stdin: Bool, tty: Bool, quiet: Bool,
                        context: CommandContext) async throws {
        let plan = AttachTerminal(stdin: stdin, tty: tty, container: container.name, containerTTY: container.tty,
                                  inputIsTerminal: isatty(0) == 1, quiet: quiet)
        for warning in plan.warnings { context.stderr.line(warning) }
        // Said while the terminal still turns a newline into CR LF.
        if !quiet { context.stderr.line("If you don't see a command prompt, try pressing enter.") }
        let terminal = plan.raw ? RawTerminal.enter(fd: 0) : nil
        defer { terminal?.restore() }
        let options = PodAttachOptions(container: container.name, stdin: stdin, stdout: true, stderr: terminal == nil, tty: terminal != nil)
        try await AttachConnection.run(client: client, namespace: namespace, pod: pod, options: options, terminal: terminal,
                                       input: stdin ? 0 : nil, context: context)
        terminal?.restore()
        if let message = plan.reattachMessage(pod: pod, namespace: namespace) { context.stdout.line(message) }
    }
}

/// What kubectl's attach makes of `-i`, `-t` and the terminals before it connects.
struct AttachTerminal: Equatable {
    /// This terminal goes raw and the session asks for a TTY.
    var raw: Bool
    /// Said on stderr first.
    var warnings: [String]
    let stdin: Bool
    let container: String
    let quiet: Bool

    init(stdin: Bool, tty: Bool, container: String, containerTTY: Bool, inputIsTerminal: Bool, quiet: Bool) {
        self.stdin = stdin
        self.container = container
        self.quiet = quiet
        warnings = []
        var tty = tty
        // The container's terminal decides: a TTY it lacks is dropped, one it has is taken.
        if tty && !containerTTY {
            tty = false
            if !quiet { warnings.append("error: Unable to use a TTY - container \(container) did not allocate one") }
        } else if !tty && containerTTY {
            tty = true
        }
        if stdin && tty && !inputIsTerminal {
            tty = false
            warnings.append("Unable to use a TTY - input is not a terminal or the right kind of file")
        }
        raw = stdin && tty
    }

    /// After a session at a terminal: how to attach again.
    func reattachMessage(pod: String, namespace: String) -> String? {
        guard !quiet, stdin, raw else { return nil }
        let scope = namespace == "default" ? "" : " -n \(namespace)"
        return "Session ended, resume using 'podlab attach \(pod) -c \(container)\(scope) -i -t' command when the pod is running"
    }
}

/// The client side of an attach session (`StreamFrame`): this process's stdin and terminal
/// size go out, the container's stdout and stderr come back to this process's.
enum AttachConnection {
    static func path(namespace: String, pod: String) -> String { APIPath.pod(namespace, pod) + "/attach" }

    /// Runs the session until the agent ends it; throws its failure, or `unable to upgrade
    /// connection: …` when the container cannot be attached.
    static func run(client: APIClient, namespace: String, pod: String, options: PodAttachOptions, terminal: RawTerminal?,
                    input: Int32?, context: CommandContext) async throws {
        let (parts, outgoing) = AsyncStream<ByteBuffer>.makeStream()
        let send: @Sendable (StreamFrame) -> Void = { outgoing.yield(ByteBuffer(bytes: $0.encoded)) }
        if let terminal {
            if let size = terminal.size { send(.resize(size)) }
            terminal.onResize { send(.resize($0)) }
        }
        var reader: InputReader?
        if let input {
            reader = InputReader(fd: input) { bytes in
                if let bytes { send(StreamFrame(.stdin, bytes)) } else { outgoing.finish() }
            }
        } else {
            outgoing.finish()
        }
        defer {
            reader?.stop()
            outgoing.finish()
        }

        let body: AsyncThrowingStream<ByteBuffer, any Error>
        do {
            body = try await client.exchange(.POST, path(namespace: namespace, pod: pod), query: options.queryItems,
                                             contentType: StreamFrame.contentType, input: parts)
        } catch let error as APIError {
            guard let status = error.serverStatus else { throw error }
            throw CLIError("unable to upgrade connection: \(status.message)")
        }
        var decoder = StreamFrameDecoder()
        var ending: APIStatus?
        do {
            for try await buffer in body {
                decoder.append(buffer.readableBytesView)
                while let frame = try decoder.next() {
                    switch frame.channel {
                    case .stdout: context.stdout.write(bytes: frame.payload)
                    case .stderr: context.stderr.write(bytes: frame.payload)
                    case .error: ending = try? APIStatus(json: JSONReader.value(from: String(decoding: frame.payload, as: UTF8.self)))
                    case .stdin, .resize: break
                    }
                }
            }
        } catch let error as StreamFrameError {
            throw APIError.malformed(what: "attach \(pod)", reason: error.description)
        } catch {
            throw APIError.interrupted(lab: client.paths.lab, reason: "\(error)")
        }
        guard let ending else { throw APIError.interrupted(lab: client.paths.lab, reason: "the attach session ended without its status") }
        guard ending.status == "Success" else { throw CLIError(ending.message) }
    }
}

/// Reads an fd (this process's stdin) on a thread of its own, chunk by chunk, until it ends
/// (`deliver(nil)`) or `stop()` is called: a read blocks, and the session must not.
final class InputReader: @unchecked Sendable {
    private let lock = NSLock()
    private var wake: (read: Int32, write: Int32)?

    init(fd: Int32, deliver: @escaping @Sendable ([UInt8]?) -> Void) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            deliver(nil)
            return
        }
        let wake = (read: fds[0], write: fds[1])
        self.wake = wake
        let started: ()? = try? PlainThread.detach(name: "stdin") { [self] in
            var buffer = [UInt8](repeating: 0, count: 32 * 1024)
            reading: while true {
                var watched = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
                let ready = watched.withUnsafeMutableBufferPointer { poll($0.baseAddress!, 2, -1) }
                if ready < 0 && errno == EINTR { continue }
                if ready < 0 || watched[1].revents != 0 { break }
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                switch n {
                case 1...: deliver(Array(buffer[0..<n]))
                case 0: deliver(nil); break reading
                default:
                    if errno == EINTR || errno == EAGAIN { continue }
                    deliver(nil)
                    break reading
                }
            }
            self.closeWake()
        }
        if started == nil {
            closeWake()
            deliver(nil)
        }
    }

    /// Ends the reading (what is still unread stays unread).
    func stop() {
        lock.withLock {
            guard let wake else { return }
            var byte: UInt8 = 1
            _ = write(wake.write, &byte, 1)
        }
    }

    private func closeWake() {
        lock.withLock {
            guard let wake else { return }
            close(wake.read)
            close(wake.write)
            self.wake = nil
        }
    }
}
