import Testing
@testable import PodNet

@Suite("A pull's ingests: what is kept of a blob, what is asked for next, when it goes")
struct BlobIngestTests {
    @Test("an ingest goes on from what it holds, is checked when it holds the whole blob, and starts again when it cannot be the blob", arguments: [
        (Int64(0), Int64?.none, Int64(1000), BlobIngestPlan.fetch(from: 0)),
        (0, 1000, 1000, .fetch(from: 0)),
        (400, 1000, 1000, .fetch(from: 400)),
        // A kill before `total` was written: the bytes still count.
        (400, nil, 1000, .fetch(from: 400)),
        (999, 1000, 1000, .fetch(from: 999)),
        (1000, 1000, 1000, .verify),
        (1000, nil, 1000, .verify),
        (1001, 1000, 1000, .restart(reason: "holds 1001 bytes, more than the blob's 1000")),
        (1001, nil, 1000, .restart(reason: "holds 1001 bytes, more than the blob's 1000")),
        (400, 2000, 1000, .restart(reason: "begun for 2000 bytes, the manifest says 1000")),
        (0, 0, 0, .fetch(from: 0)),
    ])
    func plans(held: Int64, recordedTotal: Int64?, size: Int64, expected: BlobIngestPlan) {
        #expect(BlobIngestPlan.plan(held: held, recordedTotal: recordedTotal, size: size) == expected)
    }

    @Test("the recorded size: a decimal number, else none (a torn or missing file)", arguments: [
        ("1234\n", Int64?.some(1234)), ("0", 0), ("", nil), ("12a", nil), ("-5\n", nil), (nil, nil),
    ] as [(String?, Int64?)])
    func recordedTotal(text: String?, expected: Int64?) {
        #expect(BlobIngestPlan.recordedTotal(text) == expected)
    }

    @Test("ingests last written more than a day ago are past keeping")
    func expiry() {
        #expect(!BlobIngestPlan.isExpired(age: .seconds(0)))
        #expect(!BlobIngestPlan.isExpired(age: .seconds(23 * 3600)))
        #expect(!BlobIngestPlan.isExpired(age: .seconds(24 * 3600)))
        #expect(BlobIngestPlan.isExpired(age: .seconds(24 * 3600 + 1)))
        #expect(BlobIngestPlan.isExpired(age: .seconds(7 * 24 * 3600)))
    }

    @Test("a registry's answer to a blob request: the rest only with the range asked for; the whole blob from the start; anything else refused", arguments: [
        (200, String?.none, Int64(0), BlobAnswer.whole),
        (200, nil, 500, .whole),  // a registry that serves no ranges
        (206, "bytes 500-999/1000", 500, .rest),
        (206, "bytes 400-999/1000", 500, .refused),  // not the range asked for
        (206, nil, 500, .refused),
        (206, "bytes 0-999/1000", 0, .refused),  // no range was asked for
        (404, nil, 0, .refused),
        (416, "bytes */1000", 1000, .refused),
    ] as [(Int, String?, Int64, BlobAnswer)])
    func answers(status: Int, contentRange: String?, from offset: Int64, expected: BlobAnswer) {
        #expect(BlobAnswer.of(status: status, contentRange: contentRange, requestedFrom: offset) == expected)
    }
}
