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
    /// HMAC-SHA256 over `previousHash` and this record's fields, keyed from key version `keyVersion`.
    public var hash: String
    /// The key version whose audit key signed the record (`Keyring`).
    public var keyVersion: Int

    public init(sequence: Int64, event: AuditEvent, previousHash: String, hash: String, keyVersion: Int = 1) {
        self.sequence = sequence
        self.event = event
        self.previousHash = previousHash
        self.hash = hash
        self.keyVersion = keyVersion
    }
}

/// Chains audit records: each record's hash covers the previous hash and its own fields, under a key
/// derived from a key version (`Keyring`: the current one for new records, the one a record names to check it),
/// so an edited, inserted or deleted row breaks the chain and cannot be re-sealed without the key. Records signed
/// before and after a rotation check alike; from version 2 on the version is itself covered by the hash.
public struct AuditChain: Sendable {
    public let keyring: Keyring

    /// The previous hash of the very first record.
    public static let genesis = String(repeating: "0", count: 64)

    public init(keyring: Keyring) { self.keyring = keyring }

    /// A chain over one key (version 1).
    public init(masterKey: MasterKey) { self.init(keyring: Keyring(masterKey)) }

    /// The hash for `event` at `sequence` after `previousHash`, under key version `keyVersion`.
    public func hash(sequence: Int64, event: AuditEvent, previousHash: String, keyVersion: Int) throws(IchigoError)
        -> String
    {
        hash(sequence: sequence, event: event, previousHash: previousHash, keyVersion: keyVersion,
            authenticator: try keyring.keys(keyVersion).record)
    }

    private func hash(
        sequence: Int64, event: AuditEvent, previousHash: String, keyVersion: Int, authenticator: HMAC<SHA256>
    ) -> String {
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
        // Version 1's records were hashed before there were versions: their encoding stays as it was.
        if keyVersion != 1 { put("key " + String(keyVersion)) }
        var mac = authenticator
        mac.update(data: message)
        return mac.finalize().hexString
    }

    /// The record that follows `previous` (or starts the chain), signed with the current key version.
    public func record(for event: AuditEvent, after previous: (sequence: Int64, hash: String)?) -> AuditRecord {
        let sequence = (previous?.sequence ?? 0) + 1
        let previousHash = previous?.hash ?? Self.genesis
        let (version, keys) = keyring.currentKeys()
        return AuditRecord(
            sequence: sequence, event: event, previousHash: previousHash,
            hash: hash(
                sequence: sequence, event: event, previousHash: previousHash, keyVersion: version,
                authenticator: keys.record),
            keyVersion: version)
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
            if let recomputed = try? hash(
                sequence: record.sequence, event: record.event, previousHash: record.previousHash,
                keyVersion: record.keyVersion)
            {
                if !constantTimeEqual(recomputed, record.hash) {
                    breaks.append(Break(sequence: record.sequence, problem: "contents were altered"))
                } else if !keyring.maySign(record.keyVersion, at: record.event.at) {
                    breaks.append(
                        Break(
                            sequence: record.sequence,
                            problem: "signed with key version \(record.keyVersion) after a newer version took over"))
                }
            } else {
                breaks.append(
                    Break(
                        sequence: record.sequence,
                        problem: "signed with key version \(record.keyVersion), which is not in the keyring"))
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
    /// The key version that signed it.
    public var keyVersion: Int

    static let prefix = "ichigo-audit-head v1"

    /// The one-line text form: `ichigo-audit-head v1 <sequence> <hash> <at ms> <mac>`, followed by ` key=<version>`
    /// when signed with a version after 1.
    public var description: String {
        "\(Self.prefix) \(String(sequence).leftPadded(to: 19)) \(hash) \(Int64((at.timeIntervalSince1970 * 1000).rounded())) \(mac)"
            + (keyVersion == 1 ? "" : " key=\(keyVersion)")
    }

    /// Parses one line (surrounding white space ignored); `nil` if it is not a head.
    public init?(line: some StringProtocol) {
        let parts = line.split(separator: " ")
        guard parts.count == 6 || parts.count == 7, parts[0] == "ichigo-audit-head", parts[1] == "v1",
            let sequence = Int64(parts[2]), let millis = Int64(parts[4]), parts[3].count == 64, parts[5].count == 64
        else { return nil }
        var keyVersion = 1
        if parts.count == 7 {
            guard parts[6].hasPrefix("key="), let version = Int(parts[6].dropFirst(4)), version > 1 else { return nil }
            keyVersion = version
        }
        self.sequence = sequence
        self.hash = String(parts[3])
        self.at = Date(timeIntervalSince1970: Double(millis) / 1000)
        self.mac = String(parts[5])
        self.keyVersion = keyVersion
    }

    init(sequence: Int64, hash: String, at: Date, mac: String, keyVersion: Int) {
        self.sequence = sequence
        self.hash = hash
        self.at = at
        self.mac = mac
        self.keyVersion = keyVersion
    }
}

extension AuditChain {
    private func headMAC(sequence: Int64, hash: String, at: Date, keyVersion: Int, authenticator: HMAC<SHA256>)
        -> String
    {
        var message = "audit-head v1|\(sequence)|\(hash)|\(Int64((at.timeIntervalSince1970 * 1000).rounded()))"
        if keyVersion != 1 { message += "|key \(keyVersion)" }
        var mac = authenticator
        mac.update(data: Array(message.utf8))
        return mac.finalize().hexString
    }

    /// A head signed, with the current key version, for the record at `sequence` with `hash`.
    public func head(sequence: Int64, hash: String, at: Date) -> AuditHead {
        let (version, keys) = keyring.currentKeys()
        return AuditHead(
            sequence: sequence, hash: hash, at: at,
            mac: headMAC(sequence: sequence, hash: hash, at: at, keyVersion: version, authenticator: keys.head),
            keyVersion: version)
    }

    /// Whether `head` was signed with the key version it names.
    public func isAuthentic(_ head: AuditHead) -> Bool {
        guard let keys = try? keyring.keys(head.keyVersion), keyring.maySign(head.keyVersion, at: head.at) else {
            return false
        }
        return constantTimeEqual(
            headMAC(
                sequence: head.sequence, hash: head.hash, at: head.at, keyVersion: head.keyVersion,
                authenticator: keys.head), head.mac)
    }
}
