#if canImport(Glibc)
import Glibc
#endif
import CNetlink

/// A binary min-heap of (deadline, slot): the next probe to time out.
struct DeadlineHeap {
    private var items: [(deadline: UInt64, slot: Int)] = []

    var first: (deadline: UInt64, slot: Int)? { items.first }

    mutating func push(_ deadline: UInt64, _ slot: Int) {
        items.append((deadline, slot))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].deadline < items[parent].deadline else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() {
        guard !items.isEmpty else { return }
        items.swapAt(0, items.count - 1)
        items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count, items[left].deadline < items[smallest].deadline { smallest = left }
            if right < items.count, items[right].deadline < items[smallest].deadline { smallest = right }
            guard smallest != parent else { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
    }
}

/// One thread's share of a run: an epoll loop over its probes, at most `windowPerThread` in
/// flight, each a small state machine (connect → send → read, or send → await the echo).
/// Jobs driven by one epoll instance: at most `window` in flight, each with a deadline kept in
/// `deadlines`; the prober's and the source observer's loops.
protocol EpollWindowLoop {
    var epoll: Int32 { get }
    var active: Int { get }
    var deadlines: DeadlineHeap { get }
    /// Puts job `slot` in flight (or finishes it at once).
    mutating func start(slot: Int)
    /// One readiness event of a job in flight.
    mutating func handle(_ event: epoll_event)
    /// Ends the jobs whose deadline has passed.
    mutating func expire()
}

extension EpollWindowLoop {
    /// Starts jobs `0..<count` while fewer than `window` are in flight and waits for their
    /// events (at most until the next deadline), until every job is done.
    mutating func drive(count: Int, window: Int) {
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        var next = 0
        while next < count || active > 0 {
            while active < window && next < count {
                start(slot: next)
                next += 1
            }
            guard active > 0 else { continue }
            let now = Prober.now()
            var wait: Int32 = 1000
            if let first = deadlines.first {
                wait = first.deadline > now ? Int32(min(1000, (first.deadline - now + 999_999) / 1_000_000)) : 0
            }
            let ready = epoll_wait(epoll, &events, Int32(events.count), wait)
            if ready > 0 {
                for event in events[0..<Int(ready)] { handle(event) }
            }
            expire()
        }
    }
}
