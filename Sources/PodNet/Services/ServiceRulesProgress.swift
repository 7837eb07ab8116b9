/// Which changes of services and endpoints the rules of every node already carry, and who
/// waits for one. Each change takes the next generation (`request`); a sync of all nodes reads
/// the generation current when it starts, and once it succeeded everywhere every change up to
/// that generation is in force (`completed(through:)`). A change made while a sync runs is not
/// covered by it: it waits for the next one.
///
/// `Waiter` is what to wake (a continuation in the agent); the value only keeps them.
public struct ServiceRulesProgress<Waiter> {
    /// The latest generation asked for.
    public private(set) var requested: UInt64 = 0
    /// Every generation up to this one is in force on every node.
    public private(set) var applied: UInt64 = 0
    private var waiters: [UInt64: (generation: UInt64, waiter: Waiter)] = [:]
    private var nextTicket: UInt64 = 0

    public init() {}

    /// A change of services or endpoints: the generation that carries it.
    public mutating func request() -> UInt64 {
        requested += 1
        return requested
    }

    public func isApplied(_ generation: UInt64) -> Bool { generation <= applied }

    /// Keeps `waiter` until `generation` is applied; the ticket takes it back (`cancel`).
    public mutating func wait(for generation: UInt64, _ waiter: Waiter) -> UInt64 {
        nextTicket += 1
        waiters[nextTicket] = (generation, waiter)
        return nextTicket
    }

    /// A sync that started at `generation` succeeded on every node: the waiters it satisfies,
    /// to wake (each is handed out once).
    public mutating func completed(through generation: UInt64) -> [Waiter] {
        applied = max(applied, min(generation, requested))
        let done = waiters.filter { $0.value.generation <= applied }
        for ticket in done.keys { waiters[ticket] = nil }
        return done.sorted { $0.key < $1.key }.map(\.value.waiter)
    }

    /// The waiter of `ticket` if it still waits (it gave up: a timeout), nil if it was woken.
    public mutating func cancel(_ ticket: UInt64) -> Waiter? {
        waiters.removeValue(forKey: ticket)?.waiter
    }

    /// Every waiter, whatever it waits for (no sync will run any more: the lab goes down).
    public mutating func releaseAll() -> [Waiter] {
        let all = waiters.sorted { $0.key < $1.key }.map(\.value.waiter)
        waiters.removeAll()
        return all
    }
}

extension ServiceRulesProgress: Sendable where Waiter: Sendable {}
