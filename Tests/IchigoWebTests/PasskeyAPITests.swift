import Foundation
import HTTPTypes
import Ichigo
import IchigoRuntime
import IchigoTesting
import IchigoWeb
import Testing
import WebAuthn
import Configuration

/// The JSON API's passkey routes, in-process with a software authenticator: registration options and finish,
/// a discoverable sign-in, an approval bound to a transaction (a changed payee is 409 and uses the challenge up),
/// a challenge answered with another API key, list and removal, and the answers to bad input.
@Suite("Passkey JSON API")
struct PasskeyAPITests {
    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    static func creationOptions(_ reply: APIClient.Reply) throws -> PasskeyCreationOptions {
        let object = try #require(reply.json["publicKey"])
        return try JSONDecoder().decode(PasskeyCreationOptions.self, from: JSONSerialization.data(withJSONObject: object))
    }

    static func requestOptions(_ reply: APIClient.Reply) throws -> PasskeyRequestOptions {
        let object = try #require(reply.json["publicKey"])
        return try JSONDecoder().decode(PasskeyRequestOptions.self, from: JSONSerialization.data(withJSONObject: object))
    }

    static let transaction = #"{"id":"T-1","payeeBank":"0001","payeeBranch":"123","payeeAccount":"1234567","payeeName":"タナカ","amount":50000}"#

    @Test func registerSignInApproveListRemove() async throws {
        let harness = try APIHarness()
        let verifier = try await harness.services.apiKeys.create(
            name: "frontend", scopes: [.verify], actor: "test", at: ContractFixture.start)
        try await harness.test { api in
            let user = try await api.createUser("pkapi")
            let authenticator = SoftPasskeyAuthenticator()
            // Registration.
            let optionsReply = try await api.call(.post, "/api/v1/users/\(user)/passkeys/registration-options", json: "{}")
            #expect(optionsReply.status == .ok, "\(optionsReply.text)")
            let options = try Self.creationOptions(optionsReply)
            #expect(options.rp.id == "localhost" && options.authenticatorSelection.userVerification == "required")
            let credential = authenticator.register(options)
            let registered = try await api.call(
                .post, "/api/v1/users/\(user)/passkeys",
                json: #"{"name":"社用PC","credential":\#(try Self.json(credential))}"#)
            #expect(registered.status == .created, "\(registered.text)")
            #expect(registered.string("credentialId") == credential.id)
            // The same answer again: its challenge is gone.
            let again = try await api.call(
                .post, "/api/v1/users/\(user)/passkeys", json: #"{"name":"社用PC","credential":\#(try Self.json(credential))}"#)
            #expect(again.status == .forbidden && again.errorCode == "passkey.failed")

            // A discoverable sign-in.
            let loginReply = try await api.call(.post, "/api/v1/passkeys/authentication-options", json: "{}", key: verifier.secret)
            #expect(loginReply.status == .ok, "\(loginReply.text)")
            let login = try Self.requestOptions(loginReply)
            #expect(login.allowCredentials.isEmpty)
            let signedIn = try await api.call(
                .post, "/api/v1/passkeys/authentication",
                json: #"{"credential":\#(try Self.json(authenticator.assert(login)))}"#, key: verifier.secret)
            #expect(signedIn.status == .ok, "\(signedIn.text)")
            #expect(signedIn.string("userId") == user && signedIn.string("loginId") == "pkapi")

            // A challenge asked for with one key cannot be answered with another.
            let other = try Self.requestOptions(
                try await api.call(.post, "/api/v1/passkeys/authentication-options", json: "{}", key: verifier.secret))
            let crossKey = try await api.call(
                .post, "/api/v1/passkeys/authentication", json: #"{"credential":\#(try Self.json(authenticator.assert(other)))}"#)
            #expect(crossKey.status == .forbidden && crossKey.errorCode == "passkey.failed")

            // An approval bound to a transaction.
            let bound = try await api.call(
                .post, "/api/v1/passkeys/authentication-options",
                json: #"{"userId":"\#(user)","transaction":\#(Self.transaction)}"#, key: verifier.secret)
            #expect(bound.status == .ok, "\(bound.text)")
            let approval = try Self.requestOptions(bound)
            #expect(approval.allowCredentials.map(\.id) == [credential.id])
            #expect((bound.string("reference") ?? "").count == 8)
            let assertion = try Self.json(authenticator.assert(approval))
            let changed = Self.transaction.replacingOccurrences(of: "\"0001\"", with: "\"0002\"")
            let refused = try await api.call(
                .post, "/api/v1/passkeys/authentication",
                json: #"{"userId":"\#(user)","transaction":\#(changed),"credential":\#(assertion)}"#, key: verifier.secret)
            #expect(refused.status == .conflict && refused.errorCode == "passkey.transaction_changed", "\(refused.text)")
            let reused = try await api.call(
                .post, "/api/v1/passkeys/authentication",
                json: #"{"userId":"\#(user)","transaction":\#(Self.transaction),"credential":\#(assertion)}"#, key: verifier.secret)
            #expect(reused.status == .forbidden, "a refused approval's challenge was answerable again: \(reused.text)")
            let fresh = try Self.requestOptions(
                try await api.call(
                    .post, "/api/v1/passkeys/authentication-options",
                    json: #"{"userId":"\#(user)","transaction":\#(Self.transaction)}"#, key: verifier.secret))
            let approved = try await api.call(
                .post, "/api/v1/passkeys/authentication",
                json: #"{"userId":"\#(user)","transaction":\#(Self.transaction),"credential":\#(try Self.json(authenticator.assert(fresh)))}"#,
                key: verifier.secret)
            #expect(approved.status == .ok && approved.string("transactionId") == "T-1", "\(approved.text)")

            // The verify key may not register or remove.
            let forbidden = try await api.call(
                .post, "/api/v1/users/\(user)/passkeys/registration-options", json: "{}", key: verifier.secret)
            #expect(forbidden.status == .forbidden && forbidden.errorCode == "request.scope_missing")

            // List and removal.
            let list = try await api.call(.get, "/api/v1/users/\(user)/passkeys")
            let passkeys = try #require(list.json["passkeys"] as? [[String: Any]])
            #expect(passkeys.count == 1 && passkeys[0]["name"] as? String == "社用PC")
            let removed = try await api.call(.delete, "/api/v1/users/\(user)/passkeys/\(credential.id)")
            #expect(removed.status == .noContent)
            let gone = try await api.call(.delete, "/api/v1/users/\(user)/passkeys/\(credential.id)")
            #expect(gone.status == .notFound && gone.errorCode == "passkey.not_found")
            let none = try await api.call(
                .post, "/api/v1/passkeys/authentication-options", json: #"{"userId":"\#(user)"}"#, key: verifier.secret)
            #expect(none.status == .notFound && none.errorCode == "passkey.not_found")
        }
    }

    @Test func badInputIsAClear4xxThatChangesNothing() async throws {
        let harness = try APIHarness()
        try await harness.test { api in
            let user = try await api.createUser("pkbad")
            let cases: [(String, String, HTTPResponse.Status, String)] = [
                ("/api/v1/users/\(user)/passkeys/registration-options", #"{"extra":1}"#, .badRequest, "request.unknown_field"),
                ("/api/v1/users/\(user)/passkeys", #"{"name":"x"}"#, .badRequest, "request.malformed"),
                ("/api/v1/users/\(user)/passkeys", #"{"name":"x","credential":{"id":"a","rawId":"a","type":"public-key","response":{"clientDataJSON":"!!","attestationObject":"AA"}}}"#, .forbidden, "passkey.failed"),
                ("/api/v1/passkeys/authentication-options", #"{"transaction":\#(Self.transaction)}"#, .badRequest, "request.invalid_input"),
                ("/api/v1/passkeys/authentication-options", #"{"userId":"\#(user)","transaction":{"id":"T","payeeBank":"01","payeeBranch":"123","payeeAccount":"1234567","payeeName":"x","amount":1}}"#, .badRequest, "field.invalid_bank_code"),
                ("/api/v1/passkeys/authentication-options", #"{"userId":"U000"}"#, .notFound, "user.not_found"),
                ("/api/v1/passkeys/authentication", #"{"credential":{"id":"a","rawId":"a","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AA","signature":"AA"}}}"#, .forbidden, "passkey.failed"),
            ]
            for (path, body, status, code) in cases {
                let reply = try await api.call(.post, path, json: body)
                #expect(reply.status == status && reply.errorCode == code, "\(path) \(body): \(reply.status) \(reply.text)")
            }
            let list = try await api.call(.get, "/api/v1/users/\(user)/passkeys")
            #expect((list.json["passkeys"] as? [Any])?.isEmpty == true)
        }
    }
}

/// The passkey settings: the RP ID and origins follow the public URL, the policy's words, and what is refused.
@Suite("Passkey settings")
struct PasskeySettingsTests {
    func settings(_ values: [String: String]) throws -> IchigoConfiguration {
        var config: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, value) in values {
            let content: ConfigContent = key == "http.port" ? .int(Int(value)!) : .string(value)
            config[AbsoluteConfigKey(key.split(separator: ".").map(String.init))] = .init(content, isSecret: false)
        }
        return try IchigoConfiguration(config: ConfigReader(provider: InMemoryProvider(values: config)))
    }

    @Test func defaultsFollowThePortAndThePublicURL() throws {
        let local = try settings(["http.port": "9090"]).passkeyPolicy
        #expect(local.relyingParty == RelyingParty(id: "localhost", origins: ["http://localhost:9090"]))
        #expect(local.login == .requiredOnceRegistered)
        let bank = try settings(["http.publicURL": "https://IB.Bank.example.jp"]).passkeyPolicy
        #expect(bank.relyingParty == RelyingParty(id: "ib.bank.example.jp", origins: ["https://ib.bank.example.jp"]))
        let ported = try settings(["http.publicURL": "https://ib.bank.example.jp:8443"]).passkeyPolicy
        #expect(ported.relyingParty.origins == ["https://ib.bank.example.jp:8443"])
        let wider = try settings([
            "passkey.rpID": "bank.example.jp", "passkey.origins": "https://ib.bank.example.jp, https://corp.bank.example.jp",
            "passkey.login": "offered", "passkey.aaguids": "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4",
        ]).passkeyPolicy
        #expect(wider.relyingParty.origins == ["https://ib.bank.example.jp", "https://corp.bank.example.jp"])
        #expect(wider.login == .offered && wider.allowedAAGUIDs?.count == 1 && wider.wantsAttestation)
    }

    @Test(arguments: [
        ["passkey.rpID": "127.0.0.1"], ["passkey.login": "sometimes"],
        ["passkey.origins": "https://phish.example.com"], ["passkey.origins": "https://localhost.evil.jp"],
        ["passkey.aaguids": "not-an-aaguid"], ["passkey.attestationRoots": "/nonexistent/roots.pem"],
    ])
    func refusedAtStart(_ values: [String: String]) {
        #expect(throws: IchigoError.self) { try settings(values) }
    }
}
