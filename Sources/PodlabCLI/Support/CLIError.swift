/// A client-side failure, printed as kubectl prints its own: `error: <message>`, exit 1.
public struct CLIError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var exitCode: Int32

    public init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }

    public var description: String { "error: \(message)" }
}

/// Ends a command with `code` after it has already said everything it had to say.
public struct ExitStatus: Error, Sendable, Equatable {
    public var code: Int32

    public init(_ code: Int32) { self.code = code }
}

/// Several objects failed (apply, delete): each was reported already.
public struct PartialFailure: Error, Sendable {}

extension CommandContext {
    /// Prints an error the way kubectl does and returns the exit code it calls for.
    @discardableResult
    public func report(_ error: any Error) -> Int32 {
        switch error {
        case let error as ExitStatus:
            return error.code
        case is PartialFailure:
            return 1
        case let error as CLIError:
            stderr.line(error.description)
            return error.exitCode
        case let error as APIError:
            stderr.line(error.description)
            return 1
        case is CancellationError:
            return 130
        default:
            stderr.line("error: \(error)")
            return 1
        }
    }
}
