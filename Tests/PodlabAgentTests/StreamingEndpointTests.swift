import Testing
@testable import PodlabAgent
import PodNet

/// What a streaming request asks for, read from its URI as kubectl and client-go write it, and
/// SPDY/3's header compression with its dictionary, both directions.
@Suite struct StreamingEndpointTests {
    @Test func anExecNamesItsPodItsCommandAndItsStreams() throws {
        let target = try StreamingTarget.parse(uri: "/api/v1/namespaces/default/pods/web/exec?command=sh&command=-c&command=echo+out%3B+exit+3&container=web&stdin=true&stdout=true&tty=false")
        #expect(target?.kind == .exec(command: ["sh", "-c", "echo out; exit 3"]))
        #expect(target?.namespace == "default")
        #expect(target?.name == "web")
        #expect(target?.options == PodAttachOptions(container: "web", stdin: true, stdout: true, stderr: true, tty: false))
    }

    @Test func attachAndPortForwardAreStreamingOtherPathsAreNot() throws {
        #expect(try StreamingTarget.parse(uri: "/api/v1/namespaces/shop/pods/db/attach?stdin=1&tty=1")?.options
                == PodAttachOptions(container: "", stdin: true, stdout: true, stderr: false, tty: true))
        #expect(try StreamingTarget.parse(uri: "/api/v1/namespaces/shop/pods/db/portforward")?.kind == .portForward)
        #expect(try StreamingTarget.parse(uri: "/api/v1/namespaces/shop/pods/db/log") == nil)
        #expect(try StreamingTarget.parse(uri: "/api/v1/namespaces/shop/pods") == nil)
    }

    @Test func anExecWithoutACommandIsTheAPIServersBadRequest() {
        #expect(throws: APIStatus.badRequest("you must specify at least 1 command")) {
            try StreamingTarget.parse(uri: "/api/v1/namespaces/default/pods/web/exec?stdout=true")
        }
    }

    @Test func headerBlocksCompressWithSPDYsDictionaryAndReadBackInOrder() throws {
        let client = try SPDYHeaderCompression(), server = try SPDYHeaderCompression()
        let blocks: [[(name: String, value: String)]] = [
            [("streamtype", "error"), ("port", "80"), ("requestid", "0")],
            [("streamtype", "data"), ("port", "80"), ("requestid", "0")],
            [],
        ]
        for block in blocks {
            let wire = client.compress(block)
            // zlib's header names the dictionary by its Adler-32 (FDICT set, then 0xe3c6a7c2).
            if block.first?.value == "error" { #expect(Array(wire[2..<6]) == [0xe3, 0xc6, 0xa7, 0xc2]) }
            let read = try server.decompress(wire)
            #expect(read.map(\.name) == block.map(\.name))
            #expect(read.map(\.value) == block.map(\.value))
        }
    }

    @Test func aBlockThatIsNotZlibIsRefused() throws {
        #expect(throws: SPDYError.self) { try SPDYHeaderCompression().decompress([1, 2, 3, 4, 5]) }
    }
}
