@testable import PodlabAgent
import Testing

@Suite("The agent's read of a sidecar's metrics")
struct MeshMetricsReaderTests {
    @Test("a 200 answer's body is the exposition text")
    func body() throws {
        let answer = Array("HTTP/1.0 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: 6\r\n\r\na 1\nb\n".utf8)
        #expect(try MeshMetricsReader.body(of: answer, port: 15090) == "a 1\nb\n")
    }

    @Test("another status, or no HTTP at all, is an error naming the port", arguments: [
        ("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n", "127.0.0.1:15090/metrics answered \"HTTP/1.1 404 Not Found\""),
        ("", "127.0.0.1:15090/metrics: no HTTP answer"),
        ("garbage", "127.0.0.1:15090/metrics: no HTTP answer"),
    ])
    func errors(text: String, message: String) {
        #expect(throws: (any Error).self) { try MeshMetricsReader.body(of: Array(text.utf8), port: 15090) }
        do {
            _ = try MeshMetricsReader.body(of: Array(text.utf8), port: 15090)
        } catch {
            #expect("\(error)" == message)
        }
    }
}
