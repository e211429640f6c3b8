import Foundation
import HTTPTypes
import HummingbirdTesting
import Ichigo
import IchigoRuntime
import IchigoSQLite
import IchigoTesting
@testable import IchigoWeb
import Logging
import OTP
import Testing

@Suite("JSON API keys and scopes")
struct APIKeyTests {
    @Test func aVerifyKeyChecksCodesAndNothingElse() async throws {
        let harness = try APIHarness()
        let gateway = try await harness.services.apiKeys.create(
            name: "login-gateway", scopes: [.verify], actor: "test", at: harness.clock.now())
        try await harness.test { api in
            let user = try await api.createUser("keys1")
            let (serial, totp) = try await api.enrol(user)
            let now = harness.clock.now()
            let activated = try await api.call(
                .post, "/api/v1/users/\(user)/token/activate", json: #"{"code":"\#(totp.code(at: now).text)"}"#,
                key: gateway.secret)
            #expect(activated.status == .ok, "\(activated.text)")
            // Everything but checking codes is refused with 403 and changes nothing.
            let create = try await api.call(.post, "/api/v1/users", json: #"{"loginId":"keys2","name":"x"}"#, key: gateway.secret)
            #expect(create.status == .forbidden && create.errorCode == "request.scope_missing", "\(create.text)")
            #expect(try await harness.repository.user(loginID: LoginID(rawValue: "keys2")!) == nil)
            let read = try await api.call(.get, "/api/v1/users/\(user)", key: gateway.secret)
            #expect(read.status == .forbidden && read.errorCode == "request.scope_missing")
            let revoke = try await api.call(.post, "/api/v1/tokens/\(serial)/revoke", key: gateway.secret)
            #expect(revoke.status == .forbidden)
            #expect(try await harness.repository.token(serial: SerialNumber(rawValue: serial)!)?.state == .active)
            // The audit trail names the key.
            let trail = try await harness.repository.auditRecords(matching: AuditFilter(action: "token.activate"), limit: 5)
            #expect(trail.first?.event.actor == "api:login-gateway")
            let created = try await harness.repository.auditRecords(matching: AuditFilter(action: "user.create"), limit: 5)
            #expect(created.first?.event.actor == "api:admin")
            // The refused calls are audited with the key's name, and so are reads.
            let refused = try await harness.repository.auditRecords(matching: AuditFilter(action: "api.call"), limit: 10)
            #expect(refused.count == 3 && refused.allSatisfy { $0.event.actor == "api:login-gateway" && $0.event.outcome == "refused" })
            _ = try await api.call(.get, "/api/v1/tokens/\(serial)")
            let reads = try await harness.repository.auditRecords(matching: AuditFilter(action: "token.read"), limit: 5)
            #expect(reads.first?.event.actor == "api:admin" && reads.first?.event.subject == serial)
        }
    }

    @Test func aReadKeyReadsButCannotVerifyOrChange() async throws {
        let harness = try APIHarness()
        let reader = try await harness.services.apiKeys.create(
            name: "helpdesk", scopes: [.read], actor: "test", at: harness.clock.now())
        try await harness.test { api in
            let user = try await api.createUser("keys3")
            let (serial, totp) = try await api.enrol(user)
            #expect(try await api.call(.get, "/api/v1/users/\(user)", key: reader.secret).status == .ok)
            #expect(try await api.call(.get, "/api/v1/tokens/\(serial)", key: reader.secret).status == .ok)
            let verify = try await api.call(
                .post, "/api/v1/users/\(user)/token/activate", json: #"{"code":"\#(totp.code(at: harness.clock.now()).text)"}"#,
                key: reader.secret)
            #expect(verify.status == .forbidden && verify.errorCode == "request.scope_missing")
            #expect(try await harness.repository.token(serial: SerialNumber(rawValue: serial)!)?.state == .issued)
        }
    }

    @Test func aRevokedKeyIsRefusedAtOnce() async throws {
        let harness = try APIHarness()
        let key = try await harness.services.apiKeys.create(
            name: "old-system", scopes: [.admin], actor: "test", at: harness.clock.now())
        try await harness.test { api in
            #expect(try await api.call(.post, "/api/v1/users", json: #"{"loginId":"keys4","name":"x"}"#, key: key.secret).status == .created)
            try await harness.services.apiKeys.revoke(name: "old-system", actor: "test", at: harness.clock.now())
            let after = try await api.call(.post, "/api/v1/users", json: #"{"loginId":"keys5","name":"x"}"#, key: key.secret)
            #expect(after.status == .unauthorized && after.errorCode == "request.unauthorized")
            #expect(try await harness.repository.user(loginID: LoginID(rawValue: "keys5")!) == nil)
        }
    }

    @Test func theFirstKeyIsAdoptedAsAdminAndARevokedAdminNeverComesBack() async throws {
        let harness = try APIHarness()
        try await harness.test { api in
            let keys = try await harness.services.apiKeys.list()
            #expect(keys.map(\.name) == ["admin"] && keys.first?.scopes == [.admin])
            #expect(keys.first?.secretHash == APIKey.hash(secret: APIHarness.apiKey))
            // Nothing in the database is the key itself.
            #expect(!keys.contains { $0.secretHash.contains(APIHarness.apiKey) })
            try await harness.services.apiKeys.revoke(name: "admin", actor: "test", at: harness.clock.now())
            // A restart (the admin key adopted again on the same database) does not bring the revoked key back.
            try await harness.services.adoptAdminKey()
            let after = try await api.call(.post, "/api/v1/users", json: #"{"loginId":"keys6","name":"x"}"#)
            #expect(after.status == .unauthorized)
            #expect(try await harness.services.apiKeys.list().map(\.name) == ["admin"])
        }
    }

    @Test func keyNamesAndScopesAreChecked() async throws {
        let service = APIKeyService(repository: MemoryRepository(chain: AuditChain(masterKey: .random())))
        for bad in ["", "Admin", "-x", "a b", "ä", String(repeating: "a", count: 41)] {
            await #expect(throws: IchigoError.self) {
                _ = try await service.create(name: bad, scopes: [.read], actor: "t", at: Date())
            }
        }
        await #expect(throws: IchigoError.self) { _ = try await service.create(name: "ok", scopes: [], actor: "t", at: Date()) }
        let made = try await service.create(name: "ok", scopes: [.verify], actor: "t", at: Date())
        #expect(made.secret.hasPrefix("ichigo_") && made.secret.count == 7 + 43)
        #expect(try await service.authenticate(secret: made.secret, at: Date())?.name == "ok")
        #expect(try await service.authenticate(secret: made.secret + "x", at: Date()) == nil)
    }
}

@Suite("Outside review fixes")
struct OutsideReviewTests {
    @Test func everyRefusedCallIsAuditedWithItsKeyAndTheSchemeIsCaseInsensitive() async throws {
        let harness = try APIHarness()
        let reader = try await harness.services.apiKeys.create(
            name: "helpdesk", scopes: [.read], actor: "test", at: harness.clock.now())
        try await harness.test { api in
            for scheme in ["bearer", "BEARER", "Bearer "] {
                let reply = try await api.raw(
                    .get, "/api/v1/users/Unobody",
                    headers: [.authorization: "\(scheme) \(reader.secret)", .contentType: "application/json"])
                #expect(reply.status == .notFound, "scheme \(scheme)")
            }
            let user = try await api.createUser("review1")
            #expect(try await api.call(.post, "/api/v1/users", json: #"{"loginId":"review1","name":"x"}"#).status == .conflict)
            let notLocked = try await api.call(.post, "/api/v1/users/\(user)/unlock-login")
            #expect(notLocked.status == .conflict && notLocked.errorCode == "login.not_locked")
            let account = #"{"name":"普通","branch":"001","number":"1234567","balance":0}"#
            #expect(try await api.call(.post, "/api/v1/users/\(user)/accounts", json: account).status == .created)
            let again = try await api.call(.post, "/api/v1/users/\(user)/accounts", json: account)
            #expect(again.status == .conflict && again.errorCode == "account.number_taken")
            let refused = try await harness.repository.auditRecords(matching: AuditFilter(action: "api.call"), limit: 20)
            #expect(refused.filter { $0.event.actor == "api:helpdesk" }.count == 3, "three 404 reads")
            #expect(refused.contains { $0.event.actor == "api:admin" && $0.event.reason == "login.id_taken" || $0.event.reason?.hasPrefix("login.") == true })
            #expect(refused.contains { $0.event.reason == "account.number_taken field=number" })
        }
    }

    @Test func headerValuesLoseTheirSpacesAndTabsOnly() async throws {
        #expect(Substring(" \t key \t").trimmingHeaderSpace() == "key")
        #expect(Substring("a b").trimmingHeaderSpace() == "a b")
        #expect(Substring(" \t ").trimmingHeaderSpace().isEmpty)
        #expect(Substring("").trimmingHeaderSpace().isEmpty)
        #expect(Substring("\u{3000}key").trimmingHeaderSpace() == "\u{3000}key", "only HTTP's optional white space")
        let harness = try APIHarness()
        try await harness.test { api in
            for header in ["Bearer \(APIHarness.apiKey)\t ", "Bearer   \(APIHarness.apiKey)"] {
                let reply = try await api.raw(
                    .get, "/api/v1/users/Unobody",
                    headers: [.authorization: header, .contentType: " application/json\t; charset=utf-8"])
                #expect(reply.status == .notFound, "header \(header)")
            }
            let wrong = try await api.raw(
                .get, "/api/v1/users/Unobody",
                headers: [.authorization: "Bearer \(APIHarness.apiKey)x", .contentType: "application/json"])
            #expect(wrong.status == .unauthorized)
        }
    }

    @Test func readyFailsWhenTheDatabaseFileIsRemoved() async throws {
        let harness = try APIHarness()
        try await harness.test { api in
            #expect(try await api.call(.get, "/ready", key: nil).status == .ok)
            try FileManager.default.removeItem(at: harness.directory.appendingPathComponent("db.sqlite"))
            let reply = try await api.call(.get, "/ready", key: nil)
            #expect(reply.status == .serviceUnavailable && reply.string("database") == "unreachable")
        }
    }

    @Test func theMailSendersDescriptionHoldsNoPassword() {
        let settings = SMTPSettings(host: "smtp.example.jp", port: 587, security: .starttls, username: "u", password: "Sekret-Pass-42")
        let sender = MailSender(
            repository: MemoryRepository(chain: AuditChain(masterKey: .random())), transport: SMTPTransport(settings: settings),
            sender: "bank@example.jp", logger: Logger(label: "t"))
        #expect(!"\(sender)".contains("Sekret") && !"\(settings)".contains("Sekret"))
        #expect(!String(reflecting: settings).contains("Sekret") && !String(describing: Mirror(reflecting: settings).children.map(\.value)).contains("Sekret"))
    }
}
