import Synchronization

/// A value behind a mutex, usable from any thread (a thin wrapper over `Mutex` that can be
/// stored in a `let` of a non-copyable-unfriendly context such as a static).
public final class Locked<Value: ~Copyable>: @unchecked Sendable {
    private let mutex: Mutex<Value>
    public init(_ value: consuming sending Value) { mutex = Mutex(value) }
    public func withLock<T>(_ body: (inout sending Value) throws -> sending T) rethrows -> sending T {
        try mutex.withLock(body)
    }
}
