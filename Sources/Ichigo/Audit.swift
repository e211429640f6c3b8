import Crypto
import Foundation

/// One entry in the audit trail: a state change or a verification, accepted or refused.
/// Never put a seed, password or code in it.
public struct AuditEvent: Sendable, Hashable {
    public var at: Date
    /// Who acted: `api`, `user:<id>`, `operator:<name>`, `system`.
    public var actor: String
    /// What happened, e.g. `otp.verify`, `token.enrol`, `token.unlock`.
    public var action: String
    /// What it happened to, e.g. a token serial or user ID.
    public var subject: String
    /// `accepted`, `refused`, `ok`.
    public var outcome: String
    /// Why, for refusals: `invalid_code`, `replay`, `locked`, `unknown_user`, …
    public var reason: String?

    public init(at: Date, actor: String, action: String, subject: String, outcome: String, reason: String? = nil) {
        self.at = at
        self.actor = actor
        self.action = action
        self.subject = subject
        self.outcome = outcome
        self.reason = reason
    }
}

/// An audit event as stored, with its place in the chain.
public struct AuditRecord: Sendable, Hashable {
    public var sequence: Int64
    public var event: AuditEvent
    /// The previous record's `hash` (all zeros for the first).
    public var previousHash: String
    /// HMAC-SHA256 over `previousHash` and this record's fields, keyed from the master key.
    public var hash: String

    public init(sequence: Int64, event: AuditEvent, previousHash: String, hash: String) {
        self.sequence = sequence
        self.event = event
        self.previousHash = previousHash
        self.hash = hash
    }
}

/// Chains audit records: each record's hash covers the previous hash and its own fields, under a key
/// derived from the master key, so an edited, inserted or deleted row breaks the chain and cannot be
/// re-sealed without the key.
public struct AuditChain: Sendable {
    /// HMAC-SHA256 already keyed for records: each record's hash starts from a copy (keying hashes two blocks, and
    /// every verification writes a record).
    private let recordAuthenticator: HMAC<SHA256>
    /// Keyed for heads and checkpoints (a key of its own: a head is never mistaken for a record).
    let headAuthenticator: HMAC<SHA256>

    /// The previous hash of the very first record.
    public static let genesis = String(repeating: "0", count: 64)

    public init(masterKey: MasterKey) {
        self.recordAuthenticator = HMAC(key: masterKey.derivedKey(for: "audit-chain v1"))
        self.headAuthenticator = HMAC(key: masterKey.derivedKey(for: "audit-head v1"))
    }

    /// The hash for `event` at `sequence` after `previousHash`.
    public func hash(sequence: Int64, event: AuditEvent, previousHash: String) -> String {
        // Unambiguous encoding: each field length-prefixed.
        var message: [UInt8] = []
        message.reserveCapacity(256)
        func put(_ text: String) {
            withUnsafeBytes(of: UInt32(text.utf8.count).bigEndian) { message.append(contentsOf: $0) }
            message.append(contentsOf: text.utf8)
        }
        put(previousHash)
        put(String(sequence))
        put(String(Int64((event.at.timeIntervalSince1970 * 1000).rounded())))
        put(event.actor)
        put(event.action)
        put(event.subject)
        put(event.outcome)
        put(event.reason ?? "")
        var mac = recordAuthenticator
        mac.update(data: message)
        return mac.finalize().hexString
    }

    /// The record that follows `previous` (or starts the chain).
    public func record(for event: AuditEvent, after previous: (sequence: Int64, hash: String)?) -> AuditRecord {
        let sequence = (previous?.sequence ?? 0) + 1
        let previousHash = previous?.hash ?? Self.genesis
        return AuditRecord(
            sequence: sequence, event: event, previousHash: previousHash,
            hash: hash(sequence: sequence, event: event, previousHash: previousHash))
    }

    /// A place where the chain is broken.
    public struct Break: Sendable, Hashable, CustomStringConvertible {
        public var sequence: Int64
        public var problem: String
        public var description: String { "record \(sequence): \(problem)" }
    }

    /// Checks a run of records, in sequence order, that continues from `previous`.
    /// - Returns: every break found: an edited record, a gap, a record out of place.
    public func verify(_ records: [AuditRecord], after previous: (sequence: Int64, hash: String)?) -> [Break] {
        var breaks: [Break] = []
        var expectedSequence = (previous?.sequence ?? 0) + 1
        var expectedPrevious = previous?.hash ?? Self.genesis
        for record in records {
            if record.sequence != expectedSequence {
                breaks.append(
                    Break(sequence: record.sequence, problem: "expected record \(expectedSequence) (a row is missing)"))
            }
            if record.previousHash != expectedPrevious {
                breaks.append(Break(sequence: record.sequence, problem: "does not follow the previous record"))
            }
            let recomputed = hash(sequence: record.sequence, event: record.event, previousHash: record.previousHash)
            if !constantTimeEqual(recomputed, record.hash) {
                breaks.append(Break(sequence: record.sequence, problem: "contents were altered"))
            }
            expectedSequence = record.sequence + 1
            expectedPrevious = record.hash
        }
        return breaks
    }
}

/// Compares two strings in time independent of their contents (lengths may leak).
public func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
    let left = Array(lhs.utf8)
    let right = Array(rhs.utf8)
    guard left.count == right.count else { return false }
    var difference: UInt8 = 0
    for index in left.indices { difference |= left[index] ^ right[index] }
    return difference == 0
}

/// Compares two byte strings in time independent of their contents (lengths may leak).
public func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
    return difference == 0
}

/// A signed statement "the audit trail reached record `sequence`, whose hash is `hash`", kept outside the
/// database (the server's `audit.head` file, advanced with every commit) and exported as checkpoints for an
/// external system. Deleting the newest records leaves the chain itself intact; a head or checkpoint beyond
/// the remaining tail, or naming a different hash, shows it.
public struct AuditHead: Sendable, Hashable, CustomStringConvertible {
    public var sequence: Int64
    public var hash: String
    public var at: Date
    public var mac: String

    static let prefix = "ichigo-audit-head v1"

    /// The one-line text form: `ichigo-audit-head v1 <sequence> <hash> <at ms> <mac>`.
    public var description: String {
        "\(Self.prefix) \(String(sequence).leftPadded(to: 19)) \(hash) \(Int64((at.timeIntervalSince1970 * 1000).rounded())) \(mac)"
    }

    /// Parses one line (surrounding white space ignored); `nil` if it is not a head.
    public init?(line: some StringProtocol) {
        let parts = line.split(separator: " ")
        guard parts.count == 6, parts[0] == "ichigo-audit-head", parts[1] == "v1", let sequence = Int64(parts[2]),
            let millis = Int64(parts[4]), parts[3].count == 64, parts[5].count == 64
        else { return nil }
        self.sequence = sequence
        self.hash = String(parts[3])
        self.at = Date(timeIntervalSince1970: Double(millis) / 1000)
        self.mac = String(parts[5])
    }

    init(sequence: Int64, hash: String, at: Date, mac: String) {
        self.sequence = sequence
        self.hash = hash
        self.at = at
        self.mac = mac
    }
}

extension AuditChain {
    private func headMAC(sequence: Int64, hash: String, at: Date) -> String {
        let message = "audit-head v1|\(sequence)|\(hash)|\(Int64((at.timeIntervalSince1970 * 1000).rounded()))"
        var mac = headAuthenticator
        mac.update(data: Array(message.utf8))
        return mac.finalize().hexString
    }

    /// A head signed for the record at `sequence` with `hash`.
    public func head(sequence: Int64, hash: String, at: Date) -> AuditHead {
        AuditHead(sequence: sequence, hash: hash, at: at, mac: headMAC(sequence: sequence, hash: hash, at: at))
    }

    /// Whether `head` was signed with this chain's key.
    public func isAuthentic(_ head: AuditHead) -> Bool {
        constantTimeEqual(headMAC(sequence: head.sequence, hash: head.hash, at: head.at), head.mac)
    }
}
