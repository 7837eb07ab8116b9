/// The order in which pod addresses are handed out, shared by the agent's allocator
/// (`PodIPAllocator`, whose state lives in the agent's store) and the CNI plugin's
/// (`Allocations`, whose state lives in a file under a lock): CNI host-local's order. The search
/// starts right after the address handed out last and wraps around through every range, so an
/// address just released is the last to be reused (a stale connection to a deleted pod does not
/// reach its successor at once).
public enum AllocationOrder {
    /// The first address `isFree` accepts, searching `ranges` from just after `last` and wrapping
    /// around (the rest of `last`'s range, the ranges after it, the ranges before it, then the
    /// start of its own range up to `last`); from the first range's start when `last` is nil or
    /// in no range. Nil when no address is free.
    public static func nextFree(in ranges: [ClosedRange<IPv4Address>], after last: IPv4Address?,
                                where isFree: (IPv4Address) -> Bool) -> IPv4Address? {
        var order = ranges.map { $0.lowerBound.value...$0.upperBound.value }
        if let last, let i = ranges.firstIndex(where: { $0.contains(last) }) {
            let own = order[i]
            var wrapped: [ClosedRange<UInt32>] = []
            if last.value < own.upperBound { wrapped.append((last.value + 1)...own.upperBound) }
            wrapped += order[(i + 1)...] + order[..<i]
            wrapped.append(own.lowerBound...last.value)
            order = wrapped
        }
        for range in order {
            for value in range where isFree(IPv4Address(value)) { return IPv4Address(value) }
        }
        return nil
    }
}
