import Foundation
import Logging
import OTP

/// Several field errors at once, for a form.
public struct ValidationErrors: Error, Sendable {
    public var fields: [String: IchigoError.Code]
    public init(fields: [String: IchigoError.Code]) { self.fields = fields }
}

extension Optional {
    /// `flatMap` for an async transform.
    public func asyncFlatMap<U>(_ transform: (Wrapped) async throws -> U?) async rethrows -> U? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
