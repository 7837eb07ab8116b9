import Foundation
import Hummingbird
import Logging
import PodNet

/// The agent's log handler: every message and metadata value passes through
/// `SensitiveValues.redact` before it is written (see `Redaction`).
struct RedactingLogHandler: LogHandler {
    var wrapped: any LogHandler
    let values: SensitiveValues

    init(wrapping wrapped: any LogHandler, values: SensitiveValues = .shared) {
        self.wrapped = wrapped
        self.values = values
    }

    var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        var event = event
        event.message = "\(values.redact(event.message.description))"
        event.metadata = event.metadata?.mapValues { Self.redact($0, with: values) }
        wrapped.log(event: event)
    }

    static func redact(_ value: Logger.Metadata.Value, with values: SensitiveValues) -> Logger.Metadata.Value {
        switch value {
        case let .string(text): .string(values.redact(text))
        case let .stringConvertible(item): .string(values.redact(item.description))
        case let .array(items): .array(items.map { redact($0, with: values) })
        case let .dictionary(items): .dictionary(items.mapValues { redact($0, with: values) })
        }
    }
}

/// Learns the credentials requests carry (`Redaction.sensitiveHeaders`), so that nothing the
/// agent logs or answers repeats them, whatever path a future check takes them through.
struct CredentialHeaders<Context: RequestContext>: RouterMiddleware {
    let values: SensitiveValues

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        for field in request.headers where Redaction.sensitiveHeaders.contains(field.name.canonicalName) {
            values.add(Redaction.credential(inHeaderValue: field.value))
        }
        return try await next(request, context)
    }
}
