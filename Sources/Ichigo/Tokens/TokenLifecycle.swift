/// Where a token is in its life. Stored by `rawValue`.
///
/// ```
/// awaitingAppSetup --provision--> issued --confirmFirstCode--> active <--unlock-- locked
///        |                          |  <--unlock (if locked from issued)-------- |
///        |                          |                           |  --lock-->     |
///        +-- cancel / expire -------+--------- cancel ----------+----------------+--> cancelled
///        +-- revoke ----------------+--------- revoke ----------+----------------+--> revoked
/// ```
public enum TokenState: String, Sendable, Hashable, Codable, CaseIterable {
    /// Retail software token issued at BOT003; the phone app has not fetched its seed yet.
    case awaitingAppSetup = "awaiting_app_setup"
    /// The holder has the seed (app set up, hardware handed over, or enrolled by API); the first code is pending (BOK001).
    case issued
    /// In use (利用中): codes are accepted.
    case active
    /// Stopped after too many wrong codes (停止中): every user sharing it is stopped until unlocked.
    case locked
    /// Cancelled by the customer (利用解除) or an abandoned/expired issuance. Final.
    case cancelled
    /// Revoked (失効) by an operator or administrator. Final.
    case revoked

    /// Whether no event can leave this state.
    public var isFinal: Bool { self == .cancelled || self == .revoked }

    /// Whether a user holding a token in this state has one "in use or on the way":
    /// they may not be given another.
    public var occupiesUser: Bool { !isFinal }

    /// The state after `event` for a token locked from `lockedFrom` (when locked): unlocking returns a token to
    /// the state it was locked from, so one never activated still needs its first code.
    public func applying(_ event: TokenEvent, lockedFrom: TokenState?) throws(IchigoError) -> TokenState {
        let next = try applying(event)
        if self == .locked, event == .unlock, lockedFrom == .issued { return .issued }
        return next
    }

    /// The state after `event`, or an `illegalTransition` error.
    public func applying(_ event: TokenEvent) throws(IchigoError) -> TokenState {
        switch (self, event) {
        case (.awaitingAppSetup, .provision): return .issued
        case (.issued, .confirmFirstCode): return .active
        case (.active, .lock), (.issued, .lock): return .locked
        case (.locked, .unlock): return .active
        // The bank takes a hardware token back into its inventory (e.g. after a contract replaced it).
        case (.issued, .reissue), (.active, .reissue), (.locked, .reissue): return .issued
        case (.awaitingAppSetup, .cancel), (.issued, .cancel), (.active, .cancel), (.locked, .cancel):
            return .cancelled
        case (.awaitingAppSetup, .revoke), (.issued, .revoke), (.active, .revoke), (.locked, .revoke):
            return .revoked
        case (.awaitingAppSetup, _), (.issued, _), (.active, _), (.locked, _), (.cancelled, _), (.revoked, _):
            throw IchigoError.illegal(event, from: self)
        }
    }
}

/// Something that happens to a token.
public enum TokenEvent: String, Sendable, Hashable, CaseIterable {
    /// The app fetched the seed with the activation password.
    case provision
    /// The holder typed a first correct code (BOK001, or the API's activate).
    case confirmFirstCode = "confirm_first_code"
    /// Too many wrong codes.
    case lock
    /// An operator or administrator lifted the lock (利用停止解除).
    case unlock
    /// The customer cancelled (利用解除), or the issuance was abandoned or expired.
    case cancel
    /// Revoked (失効).
    case revoke
    /// The bank returns a hardware token to its inventory: no holder, no contract, first code pending again.
    case reissue
}
