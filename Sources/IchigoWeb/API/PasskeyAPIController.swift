import Foundation
import HTTPTypes
import Hummingbird
import Ichigo
import WebAuthn

/// Passkeys through the JSON API, for a bank's own front end: registration options and finish, authentication
/// options and finish (optionally bound to a transaction), list and removal. The relying-party checks, the single
/// use of each challenge and the counters are the same as on Ichigo's own screens; a challenge asked for with one API
/// key can only be answered with the same key.
///
/// Registration is for a person the front end has just stepped up (confirmation password and OTP, as Ichigo's own
/// BPK002 does): the scope is `admin`. Authentication needs `verify`, reading `read`.
struct PasskeyAPIController<Context: APIRequestContext>: Sendable {
    let services: IchigoServices

    func addRoutes(to group: RouterGroup<Context>) {
        let verifying = group.group().add(middleware: ScopeMiddleware(scope: .verify))
        verifying.post("passkeys/authentication-options", use: authenticationOptions)
        verifying.post("passkeys/authentication", use: authenticate)
        let reading = group.group().add(middleware: ScopeMiddleware(scope: .read))
        reading.get("users/:userID/passkeys", use: list)
        let admin = group.group().add(middleware: ScopeMiddleware(scope: .admin))
        admin.post("users/:userID/passkeys/registration-options", use: registrationOptions)
        admin.post("users/:userID/passkeys", use: register)
        admin.delete("users/:userID/passkeys/:credentialID", use: remove)
    }

    // MARK: Bodies

    struct EmptyBody: JSONRequestBody {
        static var fields: Set<String> { [] }
        static func fromStrings(_ strings: [String: String]) -> EmptyBody? { EmptyBody() }
    }

    struct RegistrationBody: JSONRequestBody {
        var name: String
        var credential: PasskeyRegistrationJSON
        static var fields: Set<String> { ["name", "credential"] }
    }

    /// A transaction an authentication is bound to: the front end sends the same object with the options request
    /// and with the answer; Ichigo binds the challenge to its digest and compares.
    struct TransactionBody: Codable, Sendable {
        var id: String
        var fromAccount: String?
        var payeeBank: String
        var payeeBranch: String
        var payeeAccount: String
        var payeeName: String
        var amount: Int64

        /// The transfer, checked by the rules the screens use (4-digit bank, 3-digit branch, 7-digit account, a
        /// name of 1–60 characters, 1 to 9,999,999,999 yen, an ID of 1–64 letters, digits, `-` or `_`).
        func transfer(at now: Date) throws -> Transfer {
            guard let transferID = TransferID(callerChosen: id) else {
                throw IchigoError(.invalidInput, field: "transaction.id")
            }
            // The screens' validator (`TransferForm`); the first problem, named as this API names its fields.
            let form = TransferForm.validate(
                bank: payeeBank, branch: payeeBranch, account: payeeAccount, name: payeeName, amount: String(amount))
            for (field, name) in [
                ("payeeBank", "transaction.payee.bank"), ("payeeBranch", "transaction.payee.branch"),
                ("payeeAccount", "transaction.payeeAccount"), ("payeeName", "transaction.payee.name"),
                ("amount", "transaction.amount"),
            ] {
                // An empty field reads as a wrong one here (the API has no "required" of its own).
                guard let code = form.errors[field] else { continue }
                let empty: IchigoError.Code = field == "payeeName" ? .invalidInput : .invalidPayeeDigits(field)
                throw IchigoError(code == .required ? empty : code, field: name)
            }
            let from = fromAccount.map(AccountID.init(rawValue:))
            if let from, !from.isWellFormed { throw IchigoError(.invalidInput, field: "transaction.fromAccount") }
            guard let payee = form.payee else { throw IchigoError(.invalidInput, field: "transaction.payee") }
            return Transfer(
                id: transferID, accountID: from ?? AccountID(rawValue: ""), payee: payee, amount: amount,
                createdAt: now)
        }
    }

    struct OptionsRequestBody: JSONRequestBody {
        var userId: String?
        var transaction: TransactionBody?
        static var fields: Set<String> { ["userId", "transaction"] }
    }

    struct AuthenticationBody: JSONRequestBody {
        var credential: PasskeyAssertionJSON
        var userId: String?
        var transaction: TransactionBody?
        static var fields: Set<String> { ["credential", "userId", "transaction"] }
    }

    struct PasskeyBody: ResponseEncodable {
        var credentialId: String
        var name: String
        var authenticator: String?
        var aaguid: String
        var synced: Bool
        var attestation: String
        var createdAt: String
        var lastUsedAt: String?
        var cloneSuspected: Bool

        init(_ passkey: Passkey) {
            let format = ISO8601DateFormatter()
            credentialId = passkey.credentialID
            name = passkey.name
            authenticator = AuthenticatorNames.name(of: passkey.aaguid)
            aaguid = passkey.aaguid
            synced = passkey.isSynced
            attestation = passkey.attestation
            createdAt = format.string(from: passkey.createdAt)
            lastUsedAt = passkey.lastUsedAt.map(format.string(from:))
            cloneSuspected = passkey.cloneSuspected
        }
    }

    struct PasskeyList: ResponseEncodable {
        var passkeys: [PasskeyBody]
    }

    struct CreationOptionsBody: ResponseEncodable {
        var publicKey: PasskeyCreationOptions
    }

    struct RequestOptionsBody: ResponseEncodable {
        var publicKey: PasskeyRequestOptions
        /// What the challenge is bound to, in 8 hex digits, for the front end to show beside the transaction.
        var reference: String?
    }

    struct AuthenticatedBody: ResponseEncodable {
        var result: String
        var userId: String
        var loginId: String
        var credentialId: String
        var transactionId: String?
    }

    // MARK: Handlers

    func binding(_ context: Context) -> String { "api:" + (context.apiKey?.name ?? "unknown") }

    func user(_ context: Context) async throws -> User {
        let id = UserID(rawValue: try context.parameters.require("userID"))
        guard let user = try await services.repository.user(id) else { throw IchigoError(.userNotFound) }
        return user
    }

    @Sendable func registrationOptions(_ request: Request, context: Context) async throws -> CreationOptionsBody {
        _ = try await request.decodeJSON(as: EmptyBody.self, context: context)
        let user = try await user(context)
        return CreationOptionsBody(
            publicKey: try await services.passkeys.registrationOptions(
                for: user, binding: binding(context), at: services.clock.now()))
    }

    @Sendable func register(_ request: Request, context: Context) async throws -> EditedResponse<PasskeyBody> {
        let body = try await request.decodeJSON(as: RegistrationBody.self, context: context)
        let user = try await user(context)
        let passkey = try await services.passkeys.register(
            body.credential, name: body.name, for: user, binding: binding(context), at: services.clock.now())
        return EditedResponse(status: .created, response: PasskeyBody(passkey))
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> PasskeyList {
        let user = try await user(context)
        return PasskeyList(passkeys: try await services.passkeys.passkeys(of: user.id).map(PasskeyBody.init))
    }

    @Sendable func remove(_ request: Request, context: Context) async throws -> Response {
        let user = try await user(context)
        let credential = try context.parameters.require("credentialID")
        try await services.passkeys.remove(
            [credential], of: user, actor: context.actor, byBank: true, at: services.clock.now())
        return Response(status: .noContent)
    }

    @Sendable func authenticationOptions(_ request: Request, context: Context) async throws -> RequestOptionsBody {
        let body = try await request.decodeJSON(as: OptionsRequestBody.self, context: context)
        let now = services.clock.now()
        var user: User? = nil
        if let id = body.userId {
            guard let found = try await services.repository.user(UserID(rawValue: id)) else {
                throw IchigoError(.userNotFound)
            }
            user = found
        }
        let subject = try body.transaction.map { ApprovalSubject.transfer(try $0.transfer(at: now)) }
        if subject != nil && user == nil { throw IchigoError(.invalidInput, field: "userId") }
        let options = try await services.passkeys.apiAuthenticationOptions(
            for: user, subject: subject, binding: binding(context), at: now)
        return RequestOptionsBody(publicKey: options, reference: subject?.fingerprint)
    }

    @Sendable func authenticate(_ request: Request, context: Context) async throws -> AuthenticatedBody {
        let body = try await request.decodeJSON(as: AuthenticationBody.self, context: context)
        let now = services.clock.now()
        let transfer = try body.transaction.map { try $0.transfer(at: now) }
        if transfer != nil && body.userId == nil { throw IchigoError(.invalidInput, field: "userId") }
        let (user, passkey) = try await services.passkeys.apiAuthenticate(
            body.credential, expectedUser: body.userId.map(UserID.init(rawValue:)),
            subject: transfer.map(ApprovalSubject.transfer), actor: context.actor, binding: binding(context), at: now)
        return AuthenticatedBody(
            result: "accepted", userId: user.id.rawValue, loginId: user.loginID.rawValue,
            credentialId: passkey.credentialID, transactionId: transfer?.id.rawValue)
    }
}
