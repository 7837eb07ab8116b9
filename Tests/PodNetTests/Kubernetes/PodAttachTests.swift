import Testing
@testable import PodNet

@Suite("Attach: options, stream frames, terminal sizes")
struct PodAttachTests {
    // MARK: Options

    static func options(_ query: [String: String]) throws(APIStatus) -> PodAttachOptions {
        try PodAttachOptions { query[$0] }
    }

    @Test func defaultsAreTheAPIsStdoutAndStderr() throws {
        #expect(try Self.options([:]) == PodAttachOptions(container: "", stdin: false, stdout: true, stderr: true, tty: false))
    }

    @Test("booleans as Go's strconv.ParseBool reads them", arguments: [
        ("1", true), ("t", true), ("T", true), ("true", true), ("TRUE", true), ("True", true),
        ("0", false), ("f", false), ("F", false), ("false", false), ("FALSE", false), ("False", false),
    ])
    func booleans(text: String, value: Bool) throws {
        #expect(try Self.options(["stdin": text, "stdout": "true"]).stdin == value)
    }

    @Test func anyOtherBooleanIsABadRequestNamingTheParameter() {
        #expect(throws: APIStatus.badRequest("strconv.ParseBool: parsing \"yes\": invalid syntax (query parameter tty)")) {
            try Self.options(["tty": "yes"])
        }
    }

    @Test func noStreamAtAllIsRefused() {
        #expect(throws: APIStatus.badRequest("you must specify at least one of stdin, stdout, stderr")) {
            try Self.options(["stdout": "false", "stderr": "false"])
        }
    }

    @Test func aTerminalHasNoSeparateStderr() throws {
        let options = try Self.options(["container": "c", "stdin": "true", "tty": "true"])
        #expect(options == PodAttachOptions(container: "c", stdin: true, stdout: true, stderr: false, tty: true))
    }

    @Test func queryItemsReadBackAsTheSameOptions() throws {
        let options = PodAttachOptions(container: "shell", stdin: true, stdout: true, stderr: true, tty: false)
        #expect(options.queryItems.map { "\($0.0)=\($0.1)" } == ["container=shell", "stdin=true", "stdout=true", "stderr=true", "tty=false"])
        let query = Dictionary(uniqueKeysWithValues: options.queryItems)
        #expect(try Self.options(query) == options)
        #expect(!PodAttachOptions().queryItems.contains { $0.0 == "container" }, "no container: the pod's only one")
    }

    // MARK: Frames

    @Test func aFrameIsChannelLengthAndPayload() {
        #expect(StreamFrame(.stdin, Array("hi\n".utf8)).encoded == [0, 0, 0, 0, 3, 104, 105, 10])
        #expect(StreamFrame(.stderr, []).encoded == [2, 0, 0, 0, 0])
        #expect(StreamFrame(.stdout, [UInt8](repeating: 7, count: 0x1_0203)).encoded.prefix(5) == [1, 0, 1, 2, 3])
    }

    static let frames = [
        StreamFrame(.stdout, Array("/ # ".utf8)),
        StreamFrame(.stderr, []),
        StreamFrame(.resize, Array(#"{"Height":24,"Width":80}"#.utf8)),
        StreamFrame(.stdout, [UInt8](repeating: 0x41, count: 300)),
        StreamFrame.end(StreamFrame.success),
    ]

    @Test("frames come out whole wherever the chunks of the stream are cut", arguments: [1, 2, 3, 5, 7, 64, 1000])
    func decodesAcrossChunks(chunkSize: Int) throws {
        let bytes = Self.frames.flatMap(\.encoded)
        var decoder = StreamFrameDecoder()
        var decoded: [StreamFrame] = []
        var offset = 0
        while offset < bytes.count {
            decoder.append(bytes[offset..<min(offset + chunkSize, bytes.count)])
            offset += chunkSize
            while let frame = try decoder.next() { decoded.append(frame) }
        }
        #expect(decoded == Self.frames)
        #expect(!decoder.hasPartialFrame)
    }

    @Test func aStreamCutInsideAFrameHasAPartialFrame() throws {
        var decoder = StreamFrameDecoder()
        decoder.append(StreamFrame(.stdout, Array("hello".utf8)).encoded.dropLast())
        #expect(try decoder.next() == nil)
        #expect(decoder.hasPartialFrame)
    }

    @Test func anUnknownChannelIsAnError() {
        var decoder = StreamFrameDecoder()
        decoder.append([9, 0, 0, 0, 0])
        #expect(throws: StreamFrameError(description: "unknown stream channel 9")) { try decoder.next() }
    }

    @Test func anOversizedFrameIsAnErrorBeforeItsPayloadArrives() {
        var decoder = StreamFrameDecoder()
        decoder.append([1, 0x10, 0, 0, 1])
        #expect(throws: StreamFrameError(description: "a frame of 268435457 bytes is larger than 1048576")) { try decoder.next() }
    }

    @Test func theEndFrameCarriesAStatus() throws {
        let frame = StreamFrame.end(APIStatus.internalError("boom"))
        #expect(frame.channel == .error)
        let status = try APIStatus(json: JSONReader.value(from: String(decoding: frame.payload, as: UTF8.self)))
        #expect(status.status == "Failure" && status.message == "Internal error occurred: boom")
        let success = try APIStatus(json: JSONReader.value(from: String(decoding: StreamFrame.end(StreamFrame.success).payload, as: UTF8.self)))
        #expect(success.status == "Success")
    }

    // MARK: Terminal sizes

    @Test func terminalSizesUseKubernetesSpelling() throws {
        let frame = StreamFrame.resize(TerminalSize(width: 132, height: 43))
        #expect(String(decoding: frame.payload, as: UTF8.self) == #"{"Height":43,"Width":132}"#)
        #expect(try TerminalSize(payload: frame.payload) == TerminalSize(width: 132, height: 43))
    }

    @Test("a size that is not one is an error", arguments: [#"{"Width":80}"#, #"{"Width":-1,"Height":24}"#, #"{"Width":70000,"Height":24}"#, "80x24"])
    func badSizes(text: String) {
        #expect(throws: StreamFrameError.self) { try TerminalSize(payload: Array(text.utf8)) }
    }

    // MARK: The container's fields

    @Test func runMakesTheFieldsAttachReads() {
        let interactive = Pod.run(name: "t", image: "busybox", stdin: true, tty: true).spec.containers[0]
        #expect(interactive.stdin && interactive.stdinOnce && interactive.tty)
        let leftOpen = Pod.run(name: "t", image: "busybox", stdin: true, leaveStdinOpen: true).spec.containers[0]
        #expect(leftOpen.stdin && !leftOpen.stdinOnce && !leftOpen.tty)
        let plain = Pod.run(name: "t", image: "busybox").spec.containers[0]
        #expect(!plain.stdin && !plain.stdinOnce && !plain.tty)
    }
}
