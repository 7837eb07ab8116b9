import Logging
import NIOCore
import NIOWebSocket
import PodNet
import ServiceLifecycle

/// An exec or attach session over WebSocket (`v5.channel.k8s.io` … `channel.k8s.io`): each
/// binary message is a channel byte and its bytes, both ways (`WebSocketChannelMessage`). The
/// client sends stdin and resizes (and with v5 the close of its stdin); the server sends stdout,
/// stderr and, last, the error channel, then closes the connection (status 1000).
enum WebSocketStreams {
    static func serve(_ channel: NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, prepared: PreparedStream, endpoints: StreamingEndpoints,
                      logger: Logger) async {
        let version = prepared.remoteCommand ?? .v1
        do {
            try await channel.executeThenClose { inbound, outbound in
                let session = await endpoints.openRemoteCommand(prepared.target)
                defer { session.close() }
                await withGracefulShutdownHandler {
                    await withTaskGroup(of: Void.self) { group in
                        group.addTask {
                            await readClient(inbound, outbound: outbound, session: session, version: version)
                            session.close()
                        }
                        group.addTask {
                            do {
                                for await frame in session.output {
                                    if frame.channel == .error {
                                        if let payload = version.errorChannelPayload(statusJSON: frame.payload) {
                                            try await outbound.write(binary([StreamFrame.Channel.error.rawValue] + payload))
                                        }
                                        break
                                    }
                                    try await outbound.write(binary(WebSocketChannelMessage.encode(frame)))
                                }
                                try await outbound.write(close(code: .normalClosure))
                            } catch {
                                logger.debug("a WebSocket stream broke: \(error)")
                            }
                        }
                        // Whichever ends first ends the other: the client left, or the session is over.
                        await group.next()
                        group.cancelAll()
                    }
                } onGracefulShutdown: {
                    session.close(failure: APIStatus(message: "the agent is shutting down", reason: "ServiceUnavailable", code: 503))
                }
            }
        } catch {
            logger.debug("a WebSocket stream ended: \(error)")
        }
    }

    /// The client's messages until it closes or goes: stdin, resizes, pings (answered), close.
    private static func readClient(_ inbound: NIOAsyncChannelInboundStream<WebSocketFrame>, outbound: NIOAsyncChannelOutboundWriter<WebSocketFrame>,
                                   session: AttachSession, version: RemoteCommandProtocol) async {
        var message: [UInt8] = []
        do {
            for try await frame in inbound {
                switch frame.opcode {
                case .binary, .text, .continuation:
                    message += Array(buffer: frame.unmaskedData)
                    guard frame.fin else { continue }
                    defer { message = [] }
                    if version == .v5, WebSocketChannelMessage.closedChannel(message) == .stdin {
                        session.clientClosedStdin()
                    } else if let decoded = try WebSocketChannelMessage.decode(message) {
                        await session.receive(decoded)
                    }
                case .ping:
                    try await outbound.write(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData))
                case .connectionClose:
                    return
                default:
                    continue
                }
            }
        } catch {}
    }

    static func binary(_ bytes: [UInt8]) -> WebSocketFrame {
        WebSocketFrame(fin: true, opcode: .binary, data: ByteBuffer(bytes: bytes))
    }

    static func close(code: WebSocketErrorCode) -> WebSocketFrame {
        var data = ByteBuffer()
        data.write(webSocketErrorCode: code)
        return WebSocketFrame(fin: true, opcode: .connectionClose, data: data)
    }
}
