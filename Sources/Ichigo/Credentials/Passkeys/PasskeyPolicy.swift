import Crypto
import Foundation
import WebAuthn

/// The bank's passkey policy (`passkey.*` settings).
public struct PasskeyPolicy: Sendable {
    /// `passkey.login`: what a registered passkey means for the password + OTP login.
    public enum LoginMode: String, Sendable, Hashable, CaseIterable {
        /// The default: a customer who has a passkey signs in with it only, so a phished password and code are
        /// worthless (phishing-resistant by default, as the FSA asks). A customer who lost every passkey gets back
        /// in through the bank, which removes them.
        case requiredOnceRegistered = "required-once-registered"
        /// Both ways stay open.
        case offered
    }

    /// The bank as a relying party: RP ID (from the public URL's host) and the origins its pages come from.
    public var relyingParty: RelyingParty
    /// The name browsers show in their passkey dialogs (the bank's name).
    public var relyingPartyName: String
    public var login: LoginMode
    /// Only these authenticator models may register; `nil` allows every model.
    public var allowedAAGUIDs: Set<AAGUID>?
    /// DER root certificates for `packed` attestation chains; empty: chains are recorded unchecked.
    public var trustedRoots: [[UInt8]]
    /// How long a ceremony's challenge may be answered. 5 minutes.
    public var challengeLifetime: TimeInterval
    /// Passkeys one person may hold. 10.
    public var maxPerUser: Int

    public init(
        relyingParty: RelyingParty, relyingPartyName: String, login: LoginMode = .requiredOnceRegistered,
        allowedAAGUIDs: Set<AAGUID>? = nil, trustedRoots: [[UInt8]] = [], challengeLifetime: TimeInterval = 300,
        maxPerUser: Int = 10
    ) {
        self.relyingParty = relyingParty
        self.relyingPartyName = relyingPartyName
        self.login = login
        self.allowedAAGUIDs = allowedAAGUIDs
        self.trustedRoots = trustedRoots
        self.challengeLifetime = challengeLifetime
        self.maxPerUser = maxPerUser
    }

    /// Whether registration asks the authenticator for an attestation statement: only when the bank checks models or
    /// chains (otherwise `none`, which asks nothing of the customer's privacy).
    public var wantsAttestation: Bool { allowedAAGUIDs != nil || !trustedRoots.isEmpty }
}

/// What a passkey approval is bound to: the kind and ID of what is approved and its fields, as the server holds them.
/// The digest goes into the WebAuthn challenge, so the signed client data names the transaction; the server recomputes
/// it from the stored transaction it is about to carry out, never from the form.
public struct ApprovalSubject: Sendable, Hashable {
    /// `transfer` (retail 振込), `corporate-transfer` (承認実行), `permissions` (権限変更).
    public var kind: String
    public var id: String
    /// The fields in a fixed order, name and value.
    public var fields: [Field]

    public struct Field: Sendable, Hashable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public init(kind: String, id: String, fields: [Field]) {
        self.kind = kind
        self.id = id
        self.fields = fields
    }

    /// SHA-256 over a canonical text: a version line, the kind, the ID, then `name=value` lines (values with no line
    /// breaks: every field is one line, so no two subjects share a text).
    public var digest: [UInt8] {
        var text = "ichigo-approval-v1\nkind=\(kind)\nid=\(id)\n"
        for field in fields {
            text += field.name + "=" + field.value.replacingOccurrences(of: "\n", with: " ") + "\n"
        }
        return Array(SHA256.hash(data: Array(text.utf8)))
    }

    /// A retail transfer: from-account, payee bank, branch, account, name, amount.
    public static func transfer(_ transfer: Transfer) -> ApprovalSubject {
        ApprovalSubject(
            kind: "transfer", id: transfer.id.rawValue,
            fields: [
                Field("from", transfer.accountID.rawValue), Field("bank", transfer.payee.bank),
                Field("branch", transfer.payee.branch), Field("account", transfer.payee.account),
                Field("name", transfer.payee.name), Field("amount", String(transfer.amount)),
            ])
    }

    /// A corporate transfer awaiting approval (承認実行).
    public static func corporateTransfer(_ transfer: CorporateTransfer) -> ApprovalSubject {
        ApprovalSubject(
            kind: "corporate-transfer", id: transfer.id.rawValue,
            fields: [
                Field("contract", transfer.contractID.rawValue), Field("from", transfer.accountID.rawValue),
                Field("bank", transfer.payee.bank), Field("branch", transfer.payee.branch),
                Field("account", transfer.payee.account), Field("name", transfer.payee.name),
                Field("amount", String(transfer.amount)), Field("createdBy", transfer.createdBy.rawValue),
            ])
    }

    /// A change of a corporate user's permissions (権限変更, HRK006).
    public static func permissions(of user: UserID, _ permissions: Permissions) -> ApprovalSubject {
        let authorities = permissions.authorities.map(\.rawValue).sorted().joined(separator: ",")
        let limits = permissions.accountLimits.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }
            .joined(separator: ",")
        return ApprovalSubject(
            kind: "permissions", id: user.rawValue,
            fields: [Field("authorities", authorities), Field("limits", limits)])
    }

    /// The first 8 hex digits of the digest, shown on the page beside the transaction (照合番号).
    public var fingerprint: String { String(digest.hexString.prefix(8)).uppercased() }
}
