import Foundation
import NFTables
import Netns
import PodNet

/// Reads a node's nflog group of policy drops (`PolicyLog.group`) on a thread of its own. The
/// socket is opened inside the node's namespace on the namespace worker (nflog groups belong to
/// a namespace); reading it needs no namespace, so the thread only waits on the socket.
final class PolicyLogReader: @unchecked Sendable {
    let node: String
    private let listener: NFLogListener
    private let deliver: @Sendable ([NFLogPacket]) -> Void
    private let stopped = Locked(false)

    init(node: String, namespace: NetworkNamespace, deliver: @escaping @Sendable ([NFLogPacket]) -> Void) throws {
        self.node = node
        self.deliver = deliver
        listener = try NFLogListener(namespace: namespace, group: PolicyLog.group)
    }

    func start() {
        let thread = Thread { [self] in
            while !stopped.withLock({ $0 }) {
                do {
                    let packets = try listener.receive(timeoutMilliseconds: 500)
                    if !packets.isEmpty { deliver(packets) }
                } catch {
                    // A socket that fails keeps failing: wait, then stop when asked.
                    Thread.sleep(forTimeInterval: 1)
                }
            }
        }
        thread.name = "policy-log-\(node)"
        thread.start()
    }

    /// The thread ends within half a second, and the socket with it.
    func stop() { stopped.withLock { $0 = true } }
}
