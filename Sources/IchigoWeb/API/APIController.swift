import Foundation
import HTTPTypes
import Hummingbird
import Ichigo
import NIOCore
import OTP

/// The JSON API for integrating systems: users, token enrolment, verification and token actions.
///
/// Every route needs a key with its scope (`APIScope`): `verify` for checking codes, `read` for reading, `admin`
/// for everything else (and everything). The group this is added to authenticates the key (`APIKeyMiddleware`).
struct APIController<Context: APIRequestContext>: Sendable {
    let services: IchigoServices

    func addRoutes(to group: RouterGroup<Context>) {
        let verifying = group.group().add(middleware: ScopeMiddleware(scope: .verify))
        verifying.post("users/:userID/token/activate", use: activate)
        verifying.post("users/:userID/verify", use: verify)
        verifying.post("users/:userID/transaction-challenges", use: createChallenge)
        verifying.post("transaction-challenges/:challengeID/verify", use: answerChallenge)
        let reading = group.group().add(middleware: ScopeMiddleware(scope: .read))
        reading.get("users/:userID", use: readUser)
        reading.get("tokens/:serial", use: readToken)
        reading.get("users/:userID/accounts", use: listAccounts)
        let admin = group.group().add(middleware: ScopeMiddleware(scope: .admin))
        admin.post("users", use: createUser)
        admin.post("contracts", use: createContract)
        admin.post("contracts/:contractID/users", use: addContractUser)
        admin.post("users/:userID/token", use: enrolToken)
        admin.post("tokens/:serial/unlock", use: unlock)
        admin.post("tokens/:serial/revoke", use: revoke)
        admin.post("tokens/:serial/users", use: share)
        admin.post("users/:userID/accounts", use: openAccount)
        admin.post("users/:userID/unlock-login", use: unlockLogin)
    }

    // MARK: Bodies

    /// A user of a corporate contract (`POST /contracts/{id}/users`): the role is master, administrator or
    /// ordinary.
    struct NewUserBody: JSONRequestBody {
        var loginId: String
        var name: String
        var email: String?
        var role: String?
        var loginPassword: String?
        var confirmationPassword: String?
        static var fields: Set<String> { ["loginId", "name", "email", "role", "loginPassword", "confirmationPassword"] }
    }

    /// A retail customer (`POST /users`): no role field — a customer is a customer.
    struct NewCustomerBody: JSONRequestBody {
        var loginId: String
        var name: String
        var email: String?
        var loginPassword: String?
        var confirmationPassword: String?
        static var fields: Set<String> { ["loginId", "name", "email", "loginPassword", "confirmationPassword"] }
    }

    struct UserBody: ResponseEncodable {
        var id: String
        var loginId: String
        var name: String
        var role: String
        var contractId: String
        var email: String?
        var token: TokenBody?
    }

    struct NewContractBody: JSONRequestBody {
        var name: String
        var usageMode: String
        var pin: String
        static var fields: Set<String> { ["name", "usageMode", "pin"] }
    }

    struct ContractBody: ResponseEncodable {
        var id: String
        var name: String
        var kind: String
        var usageMode: String
    }

    struct EnrolmentBody: ResponseEncodable {
        var serial: String
        var state: String
        var otpauthUri: String
        var algorithm: String
        var digits: Int
        var period: Int
        /// The OCRA suite the token signs transactions with (取引認証), under the bank's signing policy.
        var ocraSuite: String?
    }

    struct CodeBody: JSONRequestBody {
        var code: String
        static var fields: Set<String> { ["code"] }
        static func fromStrings(_ strings: [String: String]) -> CodeBody? { strings["code"].map(CodeBody.init) }
    }

    /// The transaction a signing challenge is for: the payee's 7-digit account number and the amount in yen.
    struct ChallengeRequestBody: JSONRequestBody {
        var payeeAccount: String
        var amount: Int64
        static var fields: Set<String> { ["payeeAccount", "amount"] }
    }

    struct ChallengeBody: ResponseEncodable {
        var id: String
        /// The numeric challenge the token signs: the amount, then the 7-digit account.
        var challenge: String
        var suite: String
        var serial: String
        var payeeAccount: String
        var amount: Int64
        var expiresAt: String
    }

    struct SignatureBody: JSONRequestBody {
        var response: String
        static var fields: Set<String> { ["response"] }
    }

    struct ShareBody: JSONRequestBody {
        var userId: String
        static var fields: Set<String> { ["userId"] }
    }

    /// `{"result":…,"serial":…,"state":…}`, the answer to every checked code: written straight into its buffer
    /// (no `JSONEncoder` made and run for each verification).
    struct VerificationBody: ResponseGenerator {
        var result: String
        var serial: String
        var state: String

        func response(from request: Request, context: some RequestContext) throws -> Response {
            var buffer = ByteBuffer()
            buffer.reserveCapacity(48 + serial.utf8.count)
            buffer.writeStaticString(#"{"result":"#)
            JSONText.write(result, to: &buffer)
            buffer.writeStaticString(#","serial":"#)
            JSONText.write(serial, to: &buffer)
            buffer.writeStaticString(#","state":"#)
            JSONText.write(state, to: &buffer)
            buffer.writeStaticString("}")
            return Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: buffer))
        }
    }

    struct TokenBody: ResponseEncodable {
        var serial: String
        var kind: String
        var state: String
        var failureCount: Int
        var lastUsedAt: String?
        var users: [String]?
    }

    // MARK: Handlers

    @Sendable func createUser(_ request: Request, context: Context) async throws -> EditedResponse<UserBody> {
        let body = try await request.decodeJSON(as: NewCustomerBody.self, context: context)
        guard let loginID = LoginID(rawValue: body.loginId) else { throw IchigoError(.invalidInput, field: "loginId") }
        let user = try await services.customers.createRetailCustomer(
            NewUser(
                loginID: loginID, name: body.name, role: .customer, email: body.email,
                loginPassword: body.loginPassword, confirmationPassword: body.confirmationPassword),
            actor: context.actor, at: services.clock.now())
        return EditedResponse(status: .created, response: userBody(user, token: nil))
    }

    @Sendable func createContract(_ request: Request, context: Context) async throws -> EditedResponse<ContractBody> {
        let body = try await request.decodeJSON(as: NewContractBody.self, context: context)
        guard let mode = TokenUsageMode(rawValue: body.usageMode) else {
            throw IchigoError(.invalidInput, field: "usageMode")
        }
        let contract = try await services.customers.createCorporateContract(
            name: body.name, usageMode: mode, pin: body.pin, actor: context.actor, at: services.clock.now())
        return EditedResponse(
            status: .created,
            response: ContractBody(
                id: contract.id.rawValue, name: contract.name, kind: contract.kind.rawValue, usageMode: mode.rawValue))
    }

    @Sendable func addContractUser(_ request: Request, context: Context) async throws -> EditedResponse<UserBody> {
        let contractID = ContractID(rawValue: try context.parameters.require("contractID"))
        let body = try await request.decodeJSON(as: NewUserBody.self, context: context)
        let user = try await services.customers.addUser(
            try newUser(body, defaultRole: .ordinary), to: contractID, actor: context.actor, at: services.clock.now())
        return EditedResponse(status: .created, response: userBody(user, token: nil))
    }

    @Sendable func readUser(_ request: Request, context: Context) async throws -> UserBody {
        let id = UserID(rawValue: try context.parameters.require("userID"))
        guard let found = try await services.repository.userWithToken(id) else { throw IchigoError(.userNotFound) }
        try await auditRead("user.read", subject: id.rawValue, context: context)
        return userBody(found.user, token: found.token)
    }

    /// Reads are audited too: who looked at a customer's data, with which key.
    private func auditRead(_ action: String, subject: String, context: Context) async throws {
        try await services.customers.recordRead(action, of: subject, by: context.actor, at: services.clock.now())
    }

    @Sendable func enrolToken(_ request: Request, context: Context) async throws -> EditedResponse<EnrolmentBody> {
        let id = UserID(rawValue: try context.parameters.require("userID"))
        let (token, seed) = try await services.tokens.enrolSoftwareToken(
            for: id, ocraSuite: services.signing.policy.suiteForNewTokens, actor: context.actor, at: services.clock.now())
        let user = try await services.repository.user(id)
        let uri = KeyURI(
            issuer: services.bankName, account: user?.loginID.rawValue ?? token.serial.rawValue, seed: seed,
            parameters: token.parameters)
        return EditedResponse(
            status: .created,
            response: EnrolmentBody(
                serial: token.serial.rawValue, state: token.state.rawValue, otpauthUri: uri.uri,
                algorithm: token.parameters.algorithm.rawValue, digits: token.parameters.digits,
                period: token.parameters.period, ocraSuite: token.ocraSuite))
    }

    @Sendable func activate(_ request: Request, context: Context) async throws -> VerificationBody {
        try await check(request, context: context, activating: true)
    }

    @Sendable func verify(_ request: Request, context: Context) async throws -> VerificationBody {
        try await check(request, context: context, activating: false)
    }

    private func check(_ request: Request, context: Context, activating: Bool) async throws -> VerificationBody {
        let id = UserID(rawValue: try context.parameters.require("userID"))
        let body = try await request.decodeJSON(as: CodeBody.self, context: context)
        guard let code = OTPCode(body.code) else { throw IchigoError(.invalidInput, field: "code") }
        let now = services.clock.now()
        let result =
            activating
            ? try await services.tokens.activate(code, for: id, actor: context.actor, at: now)
            : try await services.tokens.verify(code, for: id, actor: context.actor, at: now)
        switch result {
        case .accepted(_, let serial):
            return VerificationBody(result: "accepted", serial: serial.rawValue, state: TokenState.active.rawValue)
        case .refused(let reason):
            // To an integrating system a last-try warning reads as any wrong code.
            throw IchigoError(reason == .invalidCodeLastTry ? .otpInvalid : reason.errorCode)
        }
    }

    /// Issues a signing challenge (取引認証) for a transaction of the user: answerable once, for a few minutes.
    @Sendable func createChallenge(_ request: Request, context: Context) async throws -> EditedResponse<ChallengeBody> {
        let id = UserID(rawValue: try context.parameters.require("userID"))
        let body = try await request.decodeJSON(as: ChallengeRequestBody.self, context: context)
        let now = services.clock.now()
        let challenge = try await services.signing.issueChallenge(
            for: id, over: SignedTransaction(payeeAccount: body.payeeAccount, amount: body.amount), actor: context.actor,
            at: now)
        let serial = try await services.repository.token(challenge.tokenID)?.serial.rawValue ?? ""
        return EditedResponse(
            status: .created,
            response: ChallengeBody(
                id: challenge.id.rawValue, challenge: challenge.challenge, suite: challenge.suite, serial: serial,
                payeeAccount: challenge.payeeAccount, amount: challenge.amount,
                expiresAt: ISO8601DateFormatter().string(from: challenge.expiresAt)))
    }

    /// Checks a token's response to a signing challenge. The challenge is answered once, whatever the outcome.
    @Sendable func answerChallenge(_ request: Request, context: Context) async throws -> VerificationBody {
        let id = ChallengeID(rawValue: try context.parameters.require("challengeID"))
        let body = try await request.decodeJSON(as: SignatureBody.self, context: context)
        guard (6...10).contains(body.response.utf8.count), body.response.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
        else { throw IchigoError(.invalidInput, field: "response") }
        let (_, result) = try await services.signing.answer(
            id, response: body.response, actor: context.actor, at: services.clock.now())
        switch result {
        case .accepted(_, let serial):
            return VerificationBody(result: "accepted", serial: serial.rawValue, state: TokenState.active.rawValue)
        case .refused(let reason):
            // As for codes: a last-try warning reads as any wrong signature to an integrating system.
            throw IchigoError(reason == .invalidCodeLastTry ? .signatureInvalid : reason.signatureErrorCode)
        }
    }

    @Sendable func readToken(_ request: Request, context: Context) async throws -> TokenBody {
        let token = try await token(from: context)
        let users = try await services.repository.users(holding: token.id)
        try await auditRead("token.read", subject: token.serial.rawValue, context: context)
        return tokenBody(token, users: users.map(\.id.rawValue))
    }

    @Sendable func unlock(_ request: Request, context: Context) async throws -> TokenBody {
        let token = try await services.tokens.apply(
            .unlock, to: try await token(from: context), actor: context.actor, at: services.clock.now())
        return tokenBody(token, users: nil)
    }

    @Sendable func revoke(_ request: Request, context: Context) async throws -> TokenBody {
        let token = try await services.tokens.apply(
            .revoke, to: try await token(from: context), actor: context.actor, at: services.clock.now())
        return tokenBody(token, users: nil)
    }

    @Sendable func share(_ request: Request, context: Context) async throws -> TokenBody {
        let token = try await token(from: context)
        let body = try await request.decodeJSON(as: ShareBody.self, context: context)
        _ = try await services.tokens.share(
            token.serial, with: UserID(rawValue: body.userId), actor: context.actor, at: services.clock.now())
        let users = try await services.repository.users(holding: token.id)
        return tokenBody(token, users: users.map(\.id.rawValue))
    }

    struct AccountBody: Codable, ResponseEncodable, JSONRequestBody {
        var id: String?
        var name: String
        var branch: String
        var number: String
        var balance: Int64
        static var fields: Set<String> { ["name", "branch", "number", "balance"] }
    }

    struct AccountList: ResponseEncodable {
        var accounts: [AccountBody]
    }

    /// Opens a deposit account for a customer (for integrations and test data).
    @Sendable func openAccount(_ request: Request, context: Context) async throws -> EditedResponse<AccountBody> {
        let id = UserID(rawValue: try context.parameters.require("userID"))
        var body = try await request.decodeJSON(as: AccountBody.self, context: context)
        let account = try await services.retail.openAccount(
            for: id, name: body.name, branch: body.branch, number: body.number, balance: body.balance,
            actor: context.actor, at: services.clock.now())
        body.id = account.id.rawValue
        return EditedResponse(status: .created, response: body)
    }

    @Sendable func listAccounts(_ request: Request, context: Context) async throws -> AccountList {
        let id = UserID(rawValue: try context.parameters.require("userID"))
        guard try await services.repository.user(id) != nil else { throw IchigoError(.userNotFound) }
        try await auditRead("account.list", subject: id.rawValue, context: context)
        return AccountList(
            accounts: try await services.repository.accounts(of: id).map {
                AccountBody(id: $0.id.rawValue, name: $0.name, branch: $0.branch, number: $0.number, balance: $0.balance)
            })
    }

    /// Lifts a login stopped after too many wrong passwords.
    @Sendable func unlockLogin(_ request: Request, context: Context) async throws -> UserBody {
        let id = UserID(rawValue: try context.parameters.require("userID"))
        try await services.operators.unlockLogin(of: id, actor: context.actor, at: services.clock.now())
        guard let found = try await services.repository.userWithToken(id) else { throw IchigoError(.userNotFound) }
        return userBody(found.user, token: found.token)
    }

    // MARK: Helpers

    private func token(from context: Context) async throws -> Token {
        guard let serial = SerialNumber(rawValue: try context.parameters.require("serial")) else {
            throw IchigoError(.invalidInput, field: "serial")
        }
        guard let token = try await services.repository.token(serial: serial) else { throw IchigoError(.tokenNotFound) }
        return token
    }

    private func newUser(_ body: NewUserBody, defaultRole: UserRole) throws -> NewUser {
        guard let loginID = LoginID(rawValue: body.loginId) else { throw IchigoError(.invalidInput, field: "loginId") }
        var role = defaultRole
        if let text = body.role {
            guard let parsed = UserRole(rawValue: text) else { throw IchigoError(.invalidInput, field: "role") }
            role = parsed
        }
        return NewUser(
            loginID: loginID, name: body.name, role: role, email: body.email, loginPassword: body.loginPassword,
            confirmationPassword: body.confirmationPassword)
    }

    private func userBody(_ user: User, token: Token?) -> UserBody {
        UserBody(
            id: user.id.rawValue, loginId: user.loginID.rawValue, name: user.name, role: user.role.rawValue,
            contractId: user.contractID.rawValue, email: user.email, token: token.map { tokenBody($0, users: nil) })
    }

    private func tokenBody(_ token: Token, users: [String]?) -> TokenBody {
        TokenBody(
            serial: token.serial.rawValue, kind: token.kind.rawValue, state: token.state.rawValue,
            failureCount: token.failureCount,
            lastUsedAt: token.lastUsedAt.map { ISO8601DateFormatter().string(from: $0) },
            users: users)
    }
}
