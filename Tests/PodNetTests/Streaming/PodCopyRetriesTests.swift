import Testing
@testable import PodNet

/// `cp --retries` as kubectl's `TarPipe`: the command run for each try, the offsets resumed
/// at and the lines printed.
@Suite("cp --retries")
struct PodCopyRetriesTests {
    @Test("without retries the archive is plain `tar cf - PATH`; with them tar goes through `tail -c+N`, from the first try on")
    func commands() {
        #expect(PodCopyRetries(maxTries: 0).command(path: "/tmp/a b", offset: 0) == ["tar", "cf", "-", "/tmp/a b"])
        #expect(PodCopyRetries(maxTries: 3).command(path: "/tmp/big", offset: 0) == ["sh", "-c", "tar cf - '/tmp/big' | tail -c+0"])
        #expect(PodCopyRetries(maxTries: -1).command(path: "/tmp/it's", offset: 1025) == ["sh", "-c", #"tar cf - '/tmp/it'\''s' | tail -c+1025"#])
    }

    @Test("each break resumes one past the bytes read, until the tries are spent: kubectl's lines", arguments: [1, 2, 3])
    func resumes(maxTries: Int) {
        var retries = PodCopyRetries(maxTries: maxTries)
        for attempt in 1...maxTries {
            let (offset, message) = retries.afterBreak(bytesRead: UInt64(attempt * 1000))
            #expect(offset == UInt64(attempt * 1000 + 1))
            #expect(message == "Resuming copy at \(attempt * 1000) bytes, retry \(attempt)/\(maxTries)")
        }
        let (offset, message) = retries.afterBreak(bytesRead: 99)
        #expect(offset == nil)
        #expect(message == "Dropping out copy after \(maxTries) retries")
        #expect(retries.retries == maxTries)
    }

    @Test("a negative number retries without end; 0 never")
    func limits() {
        var endless = PodCopyRetries(maxTries: -1)
        for attempt in 1...100 { #expect(endless.afterBreak(bytesRead: 0).message == "Resuming copy at 0 bytes, retry \(attempt)/-1") }
        var none = PodCopyRetries(maxTries: 0)
        #expect(none.afterBreak(bytesRead: 10) == (nil, "Dropping out copy after 0 retries"))
    }
}
