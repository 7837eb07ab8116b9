import Testing
@testable import PodNet

@Suite("SPDY/3.1 framing: golden frames both ways, header blocks, the dictionary")
struct SPDYFrameTests {
    static func decodeAll(_ bytes: [UInt8]) throws -> [SPDYFrame] {
        var decoder = SPDYFrameDecoder()
        decoder.append(bytes)
        var frames: [SPDYFrame] = []
        while let frame = try decoder.next() { frames.append(frame) }
        return frames
    }

    @Test("frames on the wire, byte for byte", arguments: [
        // data: stream id (31 bits), flags, length (24 bits), payload
        (SPDYFrame.data(streamID: 3, flags: 0, payload: Array("out\n".utf8)), [0, 0, 0, 3, 0, 0, 0, 4, 0x6f, 0x75, 0x74, 0x0a] as [UInt8]),
        (SPDYFrame.data(streamID: 5, flags: SPDYFrame.flagFin, payload: []), [0, 0, 0, 5, 1, 0, 0, 0]),
        // control: 1 | version 3 | type | flags | length | payload
        (SPDYFrame.synReply(streamID: 1, flags: 0, headerBlock: [0xaa, 0xbb]), [0x80, 3, 0, 2, 0, 0, 0, 6, 0, 0, 0, 1, 0xaa, 0xbb]),
        (SPDYFrame.synStream(streamID: 7, associatedStreamID: 0, priority: 0, flags: 0, headerBlock: [0xcc]),
         [0x80, 3, 0, 1, 0, 0, 0, 11, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0xcc]),
        (SPDYFrame.rstStream(streamID: 9, status: SPDYFrame.cancel), [0x80, 3, 0, 3, 0, 0, 0, 8, 0, 0, 0, 9, 0, 0, 0, 5]),
        (SPDYFrame.ping(id: 0x0102_0304), [0x80, 3, 0, 6, 0, 0, 0, 4, 1, 2, 3, 4]),
        (SPDYFrame.goAway(lastGoodStreamID: 0, status: 0), [0x80, 3, 0, 7, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0]),
        (SPDYFrame.windowUpdate(streamID: 1, delta: 65536), [0x80, 3, 0, 9, 0, 0, 0, 8, 0, 0, 0, 1, 0, 1, 0, 0]),
    ])
    func golden(frame: SPDYFrame, bytes: [UInt8]) throws {
        #expect(frame.encoded == bytes)
        #expect(try Self.decodeAll(bytes) == [frame])
    }

    @Test func framesArriveWhateverTheChunkBoundaries() throws {
        let frames: [SPDYFrame] = [.ping(id: 1), .data(streamID: 1, flags: 0, payload: Array(repeating: 7, count: 300)), .goAway(lastGoodStreamID: 3, status: 0)]
        let bytes = frames.flatMap(\.encoded)
        var decoder = SPDYFrameDecoder()
        var decoded: [SPDYFrame] = []
        for byte in bytes {
            decoder.append([byte])
            while let frame = try decoder.next() { decoded.append(frame) }
        }
        #expect(decoded == frames)
    }

    @Test func settingsAndUnknownControlFramesAreReadAndKept() throws {
        let settings: [UInt8] = [0x80, 3, 0, 4, 0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0, 7, 0, 1, 0, 0]
        #expect(try Self.decodeAll(settings) == [.settings(flags: 0, payload: [0, 0, 0, 1, 0, 0, 0, 7, 0, 1, 0, 0])])
        #expect(try Self.decodeAll([0x80, 3, 0, 42, 0, 0, 0, 1, 9]) == [.unknownControl(type: 42, flags: 0, payload: [9])])
    }

    @Test func anotherVersionATruncatedControlFrameOrAHugeFrameIsRefused() {
        #expect(throws: SPDYError("SPDY version 2 is not supported (only 3)")) { try Self.decodeAll([0x80, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1]) }
        #expect(throws: SPDYError("a SPDY control frame of type 6 is 2 bytes, shorter than 4")) { try Self.decodeAll([0x80, 3, 0, 6, 0, 0, 0, 2, 0, 0]) }
        #expect(throws: SPDYError("a SPDY frame of 16777215 bytes is larger than 1048576")) { try Self.decodeAll([0, 0, 0, 1, 0, 0xff, 0xff, 0xff]) }
    }

    @Test func aHeaderBlockIsCountedLengthPrefixedPairs() throws {
        let block = SPDYHeaderBlock.encode([("streamtype", "error"), ("Port", "80")])
        #expect(block == [0, 0, 0, 2, 0, 0, 0, 10] + Array("streamtype".utf8) + [0, 0, 0, 5] + Array("error".utf8)
            + [0, 0, 0, 4] + Array("port".utf8) + [0, 0, 0, 2] + Array("80".utf8))
        let decoded = try SPDYHeaderBlock.decode(block)
        #expect(decoded.map(\.name) == ["streamtype", "port"])
        #expect(decoded.map(\.value) == ["error", "80"])
        #expect(try SPDYHeaderBlock.decode(SPDYHeaderBlock.encode([])).isEmpty)
    }

    @Test func aHeaderBlockCutShortOrClaimingTooMuchIsRefused() {
        #expect(throws: SPDYError("a SPDY header block ends inside a name or value")) { try SPDYHeaderBlock.decode([0, 0, 0, 1, 0, 0, 0, 9, 0x61]) }
        #expect(throws: SPDYError("a SPDY header block claims 1000 headers in 4 bytes")) { try SPDYHeaderBlock.decode([0, 0, 0x03, 0xe8]) }
    }

    /// zlib names a dictionary by its Adler-32 in the stream's header, and a peer checks it:
    /// SPDY/3's is 0xe3c6a7c2 (Chromium's `kV3DictionaryId`).
    @Test func theDictionaryIsSPDY3s() {
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in SPDYHeaderBlock.dictionary {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        #expect(SPDYHeaderBlock.dictionary.count == 1423)
        #expect(b << 16 | a == 0xe3c6_a7c2)
    }
}

@Suite("Remote command protocols: negotiation, the error channel, WebSocket messages, requests")
struct RemoteCommandTests {
    @Test("the client's first offer the server speaks", arguments: [
        (["v5.channel.k8s.io", "v4.channel.k8s.io"], RemoteCommandProtocol.webSocket, RemoteCommandProtocol.v5 as RemoteCommandProtocol?),
        (["v5.channel.k8s.io,v4.channel.k8s.io"], RemoteCommandProtocol.spdy, .v4),
        (["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"], RemoteCommandProtocol.spdy, .v4),
        (["channel.k8s.io"], RemoteCommandProtocol.webSocket, .v1),
        (["base64.channel.k8s.io"], RemoteCommandProtocol.webSocket, nil),
        (["SPDY/3.1+portforward.k8s.io"], RemoteCommandProtocol.webSocket, nil),
    ])
    func negotiation(offered: [String], served: [RemoteCommandProtocol], chosen: RemoteCommandProtocol?) {
        #expect(RemoteCommandProtocol.negotiate(offered, among: served) == chosen)
    }

    @Test func anExitCodeIsAFailureWithAnExitCodeCause() {
        let status = APIStatus.commandExit(code: 3, command: ["sh", "-c", "exit 3"])
        #expect(status.json.jsonText(indent: 0) == #"{"apiVersion":"v1","details":{"causes":[{"message":"3","reason":"ExitCode"}]},"kind":"Status","message":"command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3","metadata":{},"reason":"NonZeroExitCode","status":"Failure"}"#)
        #expect(APIStatus.commandExit(code: 0, command: ["true"]) == StreamFrame.success)
    }

    @Test func v4SendsTheStatusOlderVersionsOnlyAFailuresMessage() {
        let failure = APIStatus.commandExit(code: 2, command: ["false"])
        let json = Array(failure.json.jsonText(indent: 0).utf8)
        #expect(RemoteCommandProtocol.v4.errorChannelPayload(statusJSON: json) == json)
        #expect(RemoteCommandProtocol.v5.errorChannelPayload(StreamFrame.success) == Array(StreamFrame.success.json.jsonText(indent: 0).utf8))
        #expect(RemoteCommandProtocol.v3.errorChannelPayload(statusJSON: json) == Array(failure.message.utf8))
        #expect(RemoteCommandProtocol.v1.errorChannelPayload(statusJSON: Array(StreamFrame.success.json.jsonText(indent: 0).utf8)) == nil)
    }

    @Test func webSocketMessagesAreAChannelByteThenBytes() throws {
        #expect(WebSocketChannelMessage.encode(StreamFrame(.stdout, Array("hi".utf8))) == [1, 0x68, 0x69])
        #expect(try WebSocketChannelMessage.decode([0, 0x61]) == StreamFrame(.stdin, [0x61]))
        let resize = try WebSocketChannelMessage.decode([4] + Array(#"{"Width":80,"Height":24}"#.utf8))
        #expect(resize?.channel == .resize)
        #expect(try resize.map { try TerminalSize(payload: $0.payload) } == TerminalSize(width: 80, height: 24))
        #expect(try WebSocketChannelMessage.decode([]) == nil)
        #expect(WebSocketChannelMessage.closedChannel([255, 0]) == .stdin)
        #expect(WebSocketChannelMessage.closedChannel([1, 0]) == nil)
        #expect(throws: StreamFrameError(description: "unknown stream channel 9")) { try WebSocketChannelMessage.decode([9]) }
    }

    @Test func anExecNeedsACommandAndAPortForwardAValidPort() throws {
        #expect(try StreamingRequest.command(["sh", "-c", "echo"]) == ["sh", "-c", "echo"])
        #expect(throws: APIStatus.badRequest("you must specify at least 1 command")) { try StreamingRequest.command([]) }
        #expect(try PortForwardProtocol.port("80") == 80)
        #expect(throws: APIStatus.badRequest("\"port\" header is required")) { try PortForwardProtocol.port(nil) }
        #expect(throws: APIStatus.badRequest("\"port\" header \"0\" is not a valid port")) { try PortForwardProtocol.port("0") }
        #expect(throws: APIStatus.badRequest("\"port\" header \"http\" is not a valid port")) { try PortForwardProtocol.port("http") }
    }
}
