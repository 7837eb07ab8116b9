#if canImport(Glibc)
import Glibc
#endif
import CMnl

/// Closes netfilter sockets on a thread of its own, off their users' paths.
///
/// When a netfilter netlink socket is released, nf_tables first waits for the objects that
/// earlier transactions deleted — in any namespace — to be freed, which takes an RCU grace
/// period (14.7 ms measured here, in a pod start whose sidecar's capture rules had just been
/// applied). `close` returning is of no use to the caller, so the wait is taken here, where it
/// delays nothing. The socket's file descriptor stays open until then, which is harmless: it
/// is bound to no group, and nothing is sent on it any more.
final class SocketCloser: @unchecked Sendable {
    static let shared = SocketCloser()

    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var pending: [OpaquePointer] = []

    private init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
        do {
            try PlainThread.detach(name: "socket-closer") { self.main() }
        } catch {
            preconditionFailure("cannot start the socket closer thread: \(error)")
        }
    }

    /// Closes `handle` (an `mnl_socket`) soon, on the closer's thread.
    func close(_ handle: OpaquePointer) {
        pthread_mutex_lock(&mutex)
        pending.append(handle)
        pthread_cond_signal(&condition)
        pthread_mutex_unlock(&mutex)
    }

    private func main() {
        while true {
            pthread_mutex_lock(&mutex)
            while pending.isEmpty { pthread_cond_wait(&condition, &mutex) }
            let handles = pending
            pending.removeAll(keepingCapacity: true)
            pthread_mutex_unlock(&mutex)
            for handle in handles { mnl_socket_close(handle) }
        }
    }
}
