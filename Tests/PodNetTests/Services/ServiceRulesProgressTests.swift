import Testing
@testable import PodNet

@Suite("Service rules progress: which changes every node's rules carry")
struct ServiceRulesProgressTests {
    @Test("a waiter wakes once the sync that started at its generation succeeded, not before")
    func wakesWhenCovered() {
        var progress = ServiceRulesProgress<String>()
        let first = progress.request()
        #expect(first == 1 && !progress.isApplied(first))
        _ = progress.wait(for: first, "delete a")
        // A sync starts (it reads generation 1); a change arrives while it runs.
        let started = progress.requested
        let second = progress.request()
        _ = progress.wait(for: second, "delete b")
        #expect(progress.completed(through: started) == ["delete a"])
        #expect(progress.isApplied(first) && !progress.isApplied(second))
        // The next sync carries the second change.
        #expect(progress.completed(through: progress.requested) == ["delete b"])
        #expect(progress.isApplied(second) && progress.applied == 2)
    }

    @Test("a failed sync wakes nobody; a later success wakes all it covers, in the order they came")
    func failedSyncWakesNobody() {
        var progress = ServiceRulesProgress<Int>()
        for waiter in 1...3 { _ = progress.wait(for: progress.request(), waiter) }
        // Nothing completed (the transaction failed): the generations stay pending.
        #expect(!progress.isApplied(1))
        #expect(progress.completed(through: 3) == [1, 2, 3])
        #expect(progress.completed(through: 3).isEmpty)
    }

    @Test("a waiter that gave up is taken back once; one already woken cannot be")
    func cancel() {
        var progress = ServiceRulesProgress<String>()
        let generation = progress.request()
        let gaveUp = progress.wait(for: generation, "timed out")
        let woken = progress.wait(for: generation + 1, "later")
        #expect(progress.cancel(gaveUp) == "timed out")
        #expect(progress.cancel(gaveUp) == nil)
        #expect(progress.completed(through: generation).isEmpty)
        _ = progress.request()
        #expect(progress.completed(through: 2) == ["later"])
        #expect(progress.cancel(woken) == nil)
    }

    @Test("a sync never applies more than was asked; releasing all empties the waiters")
    func bounds() {
        var progress = ServiceRulesProgress<String>()
        _ = progress.request()
        _ = progress.wait(for: 5, "far")
        #expect(progress.completed(through: 9).isEmpty)
        #expect(progress.applied == 1)
        #expect(progress.releaseAll() == ["far"])
        #expect(progress.releaseAll().isEmpty)
    }
}
