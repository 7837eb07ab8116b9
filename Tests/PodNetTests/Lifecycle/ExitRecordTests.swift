import Testing
@testable import PodNet

@Suite("Exit records of the lab's keeper")
struct ExitRecordTests {
    static let finished = Timestamp(secondsSince1970: 1_765_000_000)
    static let records: [ExitRecord] = [
        ExitRecord(pid: 4242, startTime: 1_234_567, status: .exited(0), finishedAt: finished),
        ExitRecord(pid: 7, startTime: 0, status: .exited(7), finishedAt: Timestamp(secondsSince1970: 0)),
        ExitRecord(pid: 4_194_304, startTime: 18_446_744_073_709_551_615, status: .exited(255), finishedAt: finished),
        ExitRecord(pid: 99, startTime: 12, status: .signaled(9), finishedAt: finished),
        ExitRecord(pid: 100, startTime: 13, status: .signaled(15), finishedAt: finished),
    ]

    @Test("a record reads back as written, from its file name and content", arguments: records)
    func roundTrip(record: ExitRecord) {
        #expect(ExitRecord(fileName: record.fileName, text: record.text) == record)
    }

    @Test("file name and content are the pid-starttime pair and one line: how it ended and when")
    func format() {
        let record = ExitRecord(pid: 4242, startTime: 1_234_567, status: .exited(7), finishedAt: Self.finished)
        #expect(record.fileName == "4242-1234567")
        #expect(record.text == "exited 7 1765000000\n")
        #expect(ExitRecord(pid: 1, startTime: 2, status: .signaled(9), finishedAt: Self.finished).text == "signaled 9 1765000000\n")
    }

    static let badContents = ["", "exited 7 1", "exited 7\n", "exited\n", "exited 256 1\n", "exited -1 1\n", "signaled 0 1\n",
                              "signaled 65 1\n", "stopped 19 1\n", "exited 7 1\nexited 8 1\n", "exited  7 1\n", "exited 7 1 \n",
                              "EXITED 7 1\n", "exited 7 -5\n", "exited 7 soon\n"]

    @Test("content that is not one whole line of a known status and a time is no record", arguments: badContents)
    func badContent(text: String) {
        #expect(ExitRecord.content(text) == nil)
        #expect(ExitRecord(fileName: "10-20", text: text) == nil)
    }

    static let badNames = ["", "10", "10-", "-20", "10-20-30", "0-20", "x-20", "10-y", ".10-20.tmp", "10_20"]

    @Test("a file name that is not <pid>-<start time> is no record", arguments: badNames)
    func badName(name: String) {
        #expect(ExitRecord(fileName: name, text: "exited 0 1\n") == nil)
    }

    static func record(_ status: ExitRecord.Status) -> ExitRecord {
        ExitRecord(pid: 10, startTime: 20, status: status, finishedAt: finished)
    }

    static let outcomes: [(state: ExitRecordLookup.ProcessState, record: ExitRecord?, waits: Bool, known: Bool)] = [
        // A record wins whatever the process looks like.
        (.gone, record(.exited(7)), false, true),
        (.zombie(parent: 1), record(.signaled(9)), false, true),
        (.running, record(.exited(0)), false, true),
        // Not yet recorded: its keeper (any parent but init) is about to write it.
        (.running, nil, true, false),
        (.zombie(parent: 4242), nil, true, false),
        // Nobody will write it.
        (.zombie(parent: 1), nil, false, false),
        (.gone, nil, false, false),
    ]

    @Test("an ended process's status: the record, or wait for its keeper, or unknown when no keeper holds it", arguments: outcomes)
    func outcome(state: ExitRecordLookup.ProcessState, record: ExitRecord?, waits: Bool, known: Bool) {
        let outcome = ExitRecordLookup.outcome(state: state, record: record)
        switch outcome {
        case let .recorded(recorded):
            #expect(known && recorded == record)
        case .wait:
            #expect(waits && !known)
        case let .unknown(reason):
            #expect(!waits && !known)
            #expect(reason.hasPrefix("exit status unknown: "))
        }
    }
}
