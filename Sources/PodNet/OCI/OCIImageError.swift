/// Why an image, one of its documents or one of its layers cannot be used: what failed, on
/// what, and why. The message is what `podlab image load` prints and what a pod's
/// `ErrImagePull` carries.
public struct OCIImageError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
