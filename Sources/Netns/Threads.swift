#if canImport(Glibc)
import Glibc
#endif
import CNetlink

/// Plain pthreads for work that must not run on Swift's cooperative pool: blocking waits,
/// epoll loops, and the namespace worker (a pool thread must never enter a namespace, and a
/// thread created by one that has inherits its namespaces). Create them from a thread in the
/// process's own namespaces.
public enum PlainThread {
    /// Runs `body` on a new detached thread named `name` (as `ps -L`, `top -H` and perf show it).
    /// Throws when the thread cannot be created; `body` has not run then.
    public static func detach(name: String? = nil, _ body: @escaping @Sendable () -> Void) throws {
        pthread_detach(try start(name: name, body))
    }

    /// Runs `body` on a new detached thread, or on the calling thread when none can be made.
    public static func detachOrRunHere(name: String? = nil, _ body: @escaping @Sendable () -> Void) {
        do { try detach(name: name, body) } catch { body() }
    }

    /// Runs `body(0..<count)` on `count` new threads named `name-N` and waits for all of them; an
    /// index whose thread cannot be made runs on the calling thread.
    public static func runAll(_ count: Int, name: String, _ body: @escaping @Sendable (Int) -> Void) {
        var threads: [pthread_t] = []
        for index in 0..<count {
            if let thread = try? start(name: "\(name)-\(index)", { body(index) }) {
                threads.append(thread)
            } else {
                body(index)
            }
        }
        for thread in threads { pthread_join(thread, nil) }
    }

    /// A new joinable thread named `name` running `body`; throws when none can be made (`body`
    /// has not run then).
    private static func start(name: String?, _ body: @escaping @Sendable () -> Void) throws -> pthread_t {
        let box = Unmanaged.passRetained(Body(name: name, body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue()
            if let name = box.name { pl_set_thread_name(name) }
            box.body()
            return nil
        }, box)
        guard rc == 0 else {
            Unmanaged<Body>.fromOpaque(box).release()
            throw KernelError(operation: "pthread_create", object: name ?? "thread", errno: Errno(rc))
        }
        return thread
    }

    /// A closure and a name handed to a new thread.
    private final class Body: @unchecked Sendable {
        let name: String?
        let body: @Sendable () -> Void
        init(name: String?, _ body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
}
