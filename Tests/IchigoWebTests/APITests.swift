import Foundation
import HTTPTypes
import HummingbirdTesting
import Ichigo
import IchigoSQLite
import IchigoTesting
import NIOCore
import OTP
import Testing

@Suite("JSON API")
struct APITests {
    @Test func healthNeedsNoKey() async throws {
        try await APIHarness().test { api in
            let reply = try await api.call(.get, "/health", key: nil)
            #expect(reply.status == .ok)
            #expect(reply.string("status") == "ok")
        }
    }

    @Test(arguments: [nil, "wrong-key", ""])
    func apiRefusesWithoutTheKey(key: String?) async throws {
        let harness = try APIHarness()
        try await harness.test { api in
            let reply = try await api.call(.post, "/api/v1/users", json: #"{"loginId":"x1","name":"x"}"#, key: key)
            #expect(reply.status == .unauthorized)
            #expect(reply.errorCode == "request.unauthorized")
            #expect(try await harness.repository.userCount() == 0)
        }
    }

    @Test func enrolActivateVerifyAndRefuseReplay() async throws {
        let harness = try APIHarness()
        try await harness.test { api in
            let user = try await api.createUser("taro")
            let (serial, totp) = try await api.enrol(user)
            #expect(serial.hasPrefix("SKTS"))
            let now = harness.clock.now()
            // Before activation, verification is refused: the token is not in use yet.
            let early = try await api.submit(totp.code(at: now).text, for: user)
            #expect(early.status == .conflict && early.errorCode == "otp.not_active")
            let activated = try await api.submit(totp.code(at: now).text, for: user, activate: true)
            #expect(activated.status == .ok && activated.string("state") == "active", "\(activated.text)")
            // The same code again is refused (once only), and reads like a wrong code.
            let replay = try await api.submit(totp.code(at: now).text, for: user)
            #expect(replay.status == .forbidden && replay.errorCode == "otp.invalid")
            harness.clock.advance(by: 60)
            let next = try await api.submit(totp.code(at: harness.clock.now()).text, for: user)
            #expect(next.status == .ok && next.string("result") == "accepted" && next.string("serial") == serial)
            let token = try await api.call(.get, "/api/v1/tokens/\(serial)")
            #expect(token.string("state") == "active")
            #expect((token.json["failureCount"] as? Int) == 0)
        }
    }

    @Test func unknownUserReadsExactlyLikeAWrongCode() async throws {
        let harness = try APIHarness()
        try await harness.test { api in
            let user = try await api.createUser("hana")
            let (_, totp) = try await api.enrol(user)
            _ = try await api.submit(totp.code(at: harness.clock.now()).text, for: user, activate: true)
            harness.clock.advance(by: 60)
            let step = TOTPParameters.ichigoDefault.step(at: harness.clock.now())
            let wrong = RepositoryContract.wrongCode(for: totp, near: step).text
            let wrongReply = try await api.submit(wrong, for: user)
            let unknownReply = try await api.submit(wrong, for: "U000000000000000000000000")
            #expect(wrongReply.status == .forbidden)
            #expect(unknownReply.status == wrongReply.status)
            #expect(unknownReply.text == wrongReply.text)
        }
    }

    @Test func lockoutUnlockRevokeThroughTheAPI() async throws {
        let harness = try APIHarness()
        try await harness.test { api in
            // Two users of one corporate contract share a token; a retail customer may never be given it.
            let contract = try await api.call(
                .post, "/api/v1/contracts", json: #"{"name":"いちご商事","usageMode":"individual","pin":"1234"}"#)
            let contractID = try #require(contract.string("id"))
            func member(_ login: String) async throws -> String {
                let reply = try await api.call(
                    .post, "/api/v1/contracts/\(contractID)/users", json: #"{"loginId":"\#(login)","name":"\#(login)"}"#)
                return try #require(reply.string("id"), "\(reply.text)")
            }
            let alice = try await member("alice")
            let bob = try await member("bob")
            let carol = try await api.createUser("carol")
            let (serial, totp) = try await api.enrol(alice)
            _ = try await api.submit(totp.code(at: harness.clock.now()).text, for: alice, activate: true)
            let refused = try await api.call(.post, "/api/v1/tokens/\(serial)/users", json: #"{"userId":"\#(carol)"}"#)
            #expect(refused.status == .conflict && refused.errorCode == "token.not_registrable", "\(refused.text)")
            let shared = try await api.call(.post, "/api/v1/tokens/\(serial)/users", json: #"{"userId":"\#(bob)"}"#)
            #expect(shared.status == .ok && (shared.json["users"] as? [String])?.count == 2, "\(shared.text)")
            harness.clock.advance(by: 60)
            let now = harness.clock.now()
            let wrong = RepositoryContract.wrongCode(for: totp, near: TOTPParameters.ichigoDefault.step(at: now)).text
            for _ in 1...4 {
                #expect(try await api.submit(wrong, for: alice).errorCode == "otp.invalid")
            }
            let fifth = try await api.submit(wrong, for: alice, language: "en")
            #expect(fifth.status == .forbidden && fifth.errorCode == "otp.locked")
            #expect(fifth.errorMessage?.contains("Too many") == true)
            // Bob shares the token: he is stopped too, even with the right code.
            let bobReply = try await api.submit(totp.code(at: now).text, for: bob)
            #expect(bobReply.errorCode == "otp.locked")
            #expect(try await api.call(.get, "/api/v1/tokens/\(serial)").string("state") == "locked")
            let unlocked = try await api.call(.post, "/api/v1/tokens/\(serial)/unlock")
            #expect(unlocked.status == .ok && unlocked.string("state") == "active")
            #expect(try await api.submit(totp.code(at: now).text, for: bob).status == .ok)
            // Unlocking an active token is an illegal transition.
            let again = try await api.call(.post, "/api/v1/tokens/\(serial)/unlock")
            #expect(again.status == .conflict && again.errorCode == "token.illegal_transition")
            let revoked = try await api.call(.post, "/api/v1/tokens/\(serial)/revoke")
            #expect(revoked.string("state") == "revoked")
            harness.clock.advance(by: 60)
            let afterRevoke = try await api.submit(totp.code(at: harness.clock.now()).text, for: alice)
            #expect(afterRevoke.errorCode == "otp.not_active")
            // A revoked token frees its users: a new enrolment works.
            _ = try await api.enrol(alice)
        }
    }

    struct BadRequest: Sendable, CustomStringConvertible {
        let method: HTTPRequest.Method
        let path: String
        let body: String?
        let status: HTTPResponse.Status
        let code: String
        var description: String { "\(method) \(path) \(body ?? "-") → \(status.code) \(code)" }
    }

    static let badRequests: [BadRequest] = [
        BadRequest(
            method: .post, path: "/api/v1/users", body: "{bad json", status: .badRequest, code: "request.malformed"),
        BadRequest(
            method: .post, path: "/api/v1/users", body: #"{"loginId":5,"name":"x"}"#, status: .badRequest,
            code: "request.malformed"),
        BadRequest(
            method: .post, path: "/api/v1/users", body: #"{"name":"x"}"#, status: .badRequest, code: "request.malformed"
        ),
        BadRequest(
            method: .post, path: "/api/v1/users", body: #"{"loginId":"has space","name":"x"}"#, status: .badRequest,
            code: "request.invalid_input"),
        BadRequest(
            method: .post, path: "/api/v1/users", body: #"{"loginId":"ok1","name":""}"#, status: .badRequest,
            code: "request.invalid_input"),
        BadRequest(
            method: .post, path: "/api/v1/users", body: #"{"loginId":"ok1","name":"x","email":"not-mail"}"#,
            status: .badRequest, code: "request.invalid_input"),
        BadRequest(
            method: .post, path: "/api/v1/users", body: #"{"loginId":"ok1","name":"x","confirmationPassword":"短い"}"#,
            status: .badRequest, code: "request.invalid_input"),
        BadRequest(
            method: .post, path: "/api/v1/users", body: String(repeating: "x", count: 70_000), status: .contentTooLarge,
            code: "request.too_large"),
        BadRequest(
            method: .post, path: "/api/v1/users/U0/verify", body: #"{"code":"12a456"}"#, status: .badRequest,
            code: "request.invalid_input"),
        BadRequest(
            method: .post, path: "/api/v1/users/U0/verify", body: #"{"code":"１２３４５６"}"#, status: .badRequest,
            code: "request.invalid_input"),
        BadRequest(
            method: .post, path: "/api/v1/users/U0/verify", body: #"{"code":123456}"#, status: .badRequest,
            code: "request.malformed"),
        BadRequest(
            method: .post, path: "/api/v1/users/U0/verify", body: #"{"code":"12345"}"#, status: .badRequest,
            code: "request.invalid_input"),
        BadRequest(method: .post, path: "/api/v1/users/U0/token", body: nil, status: .notFound, code: "user.not_found"),
        BadRequest(method: .get, path: "/api/v1/users/U0", body: nil, status: .notFound, code: "user.not_found"),
        BadRequest(
            method: .get, path: "/api/v1/tokens/SKTS0000000000", body: nil, status: .notFound, code: "token.not_found"),
        BadRequest(
            method: .get, path: "/api/v1/tokens/NOPE", body: nil, status: .badRequest, code: "request.invalid_input"),
        BadRequest(
            method: .post, path: "/api/v1/tokens/SKTS0000000000/unlock", body: nil, status: .notFound,
            code: "token.not_found"),
        BadRequest(
            method: .post, path: "/api/v1/contracts", body: #"{"name":"x","usageMode":"odd","pin":"1234"}"#,
            status: .badRequest, code: "request.invalid_input"),
        BadRequest(
            method: .post, path: "/api/v1/contracts", body: #"{"name":"x","usageMode":"shared","pin":"12"}"#,
            status: .badRequest, code: "request.invalid_input"),
        BadRequest(
            method: .post, path: "/api/v1/contracts/C0/users", body: #"{"loginId":"c1","name":"x","role":"master"}"#,
            status: .notFound, code: "contract.not_found"),
        BadRequest(method: .get, path: "/api/v1/nothing-here", body: nil, status: .notFound, code: "request.not_found"),
    ]

    @Test(arguments: badRequests)
    func badInputGetsAClearErrorAndChangesNothing(_ bad: BadRequest) async throws {
        let harness = try APIHarness()
        try await harness.test { api in
            let before = try await harness.repository.auditRecords(from: 1, limit: 10_000).count
            let reply = try await api.call(bad.method, bad.path, json: bad.body)
            #expect(reply.status == bad.status, "\(reply.text)")
            #expect(reply.errorCode == bad.code, "\(reply.text)")
            #expect(reply.errorMessage?.isEmpty == false)
            #expect(try await harness.repository.userCount() == 0)
            // Nothing changes; the trail gains only the refusal, naming the key (or, for a code, the check) —
            // except for a path that is no operation at all, which reaches no key check.
            let after = try await harness.repository.auditRecords(from: 1, limit: 10_000)
            if bad.code == "request.not_found" {
                #expect(after.count == before)
                return
            }
            #expect(after.count == before + 1, "\(after.suffix(2).map(\.event))")
            let last = try #require(after.last?.event)
            #expect(last.outcome == "refused" && last.actor == "api:admin", "\(last)")
            #expect(last.action == "api.call" || last.action == "otp.verify", "\(last)")
        }
    }

    @Test func duplicateLoginIDIsAConflictAndStoresNothing() async throws {
        let harness = try APIHarness()
        try await harness.test { api in
            _ = try await api.createUser("dup")
            let reply = try await api.call(
                .post, "/api/v1/users", json: #"{"loginId":"dup","name":"again"}"#, language: "en")
            #expect(reply.status == .conflict && reply.errorCode == "user.login_id_taken")
            #expect(reply.errorMessage == "This login ID is already in use.")
            #expect(try await harness.repository.userCount() == 1)
        }
    }

    @Test func corporateContractWithUsers() async throws {
        let harness = try APIHarness()
        try await harness.test { api in
            let contract = try await api.call(
                .post, "/api/v1/contracts", json: #"{"name":"いちご商事","usageMode":"shared","pin":"1234"}"#)
            #expect(contract.status == .created)
            let id = try #require(contract.string("id"))
            for (login, role) in [("m1", "master"), ("a1", "administrator"), ("o1", "ordinary")] {
                let reply = try await api.call(
                    .post, "/api/v1/contracts/\(id)/users",
                    json: #"{"loginId":"\#(login)","name":"x","role":"\#(role)"}"#)
                #expect(reply.status == .created && reply.string("role") == role, "\(reply.text)")
            }
            let customerRole = try await api.call(
                .post, "/api/v1/contracts/\(id)/users", json: #"{"loginId":"c9","name":"x","role":"customer"}"#)
            #expect(customerRole.status == .badRequest)
        }
    }

    /// HTTP requests are counted by route, method and status under Hummingbird's metric names, and the hot answers
    /// written by hand (`/health`, a verification) are the JSON they were.
    @Test func requestsAreCountedByRouteAndStatus() async throws {
        let harness = try APIHarness()
        try await harness.test { api in
            for _ in 0..<3 { #expect(try await api.call(.get, "/health", key: nil).status == .ok) }
            let health = try await api.call(.get, "/health", key: nil)
            #expect(health.json as NSDictionary == ["status": "ok"] as NSDictionary)
            let user = try await api.createUser("kazu")
            let (serial, totp) = try await api.enrol(user)
            _ = try await api.submit(totp.code(at: harness.clock.now()).text, for: user, activate: true)
            harness.clock.advance(by: 60)
            let accepted = try await api.submit(totp.code(at: harness.clock.now()).text, for: user)
            #expect(accepted.json as NSDictionary == ["result": "accepted", "serial": serial, "state": "active"] as NSDictionary)
            #expect(try await api.call(.get, "/no-such-page", key: nil).status == .notFound)
            let metrics = try await api.call(.get, "/metrics").text
            func count(_ route: String, _ method: String, _ status: Int) -> Int? {
                metrics.split(separator: "\n").first {
                    $0.hasPrefix("hb_requests{") && $0.contains(#"http_route="\#(route)""#)
                        && $0.contains(#"http_request_method="\#(method)""#)
                        && $0.contains(#"http_response_status_code="\#(status)""#)
                }.flatMap { Int($0.split(separator: " ").last ?? "") }
            }
            #expect(count("/health", "GET", 200) == 4, "\(metrics)")
            #expect(count("/api/v1/users/{userID}/verify", "POST", 200) == 1)
            #expect(count("/api/v1/users/{userID}/token/activate", "POST", 200) == 1)
            #expect(metrics.contains("http_server_request_duration_count"))
            #expect(metrics.contains("http_server_active_requests"))
        }
    }

    /// A path asked with a method it has no route for is 405 with the methods it has (`Allow`), for the API and the
    /// screens alike; a path with no route at all stays 404.
    @Test func aWrongMethodIs405WithAllow() async throws {
        let harness = try APIHarness()
        try await harness.test { api in
            let health = try await api.raw(.post, "/health", headers: [:])
            #expect(health.status == .methodNotAllowed && health.headers[.allow] == "GET")
            let verify = try await api.call(.get, "/api/v1/users/u1/verify")
            #expect(verify.status == .methodNotAllowed && verify.errorCode == "request.method_not_allowed")
            let raw = try await api.raw(.delete, "/api/v1/users/u1/verify", headers: [:])
            #expect(raw.headers[.allow] == "POST")
            let user = try await api.raw(.put, "/api/v1/users/u1", headers: [:])
            #expect(user.status == .methodNotAllowed && user.headers[.allow]?.contains("GET") == true, "\(user.headers)")
            let login = try await api.raw(.put, "/login", headers: [:])
            #expect(login.status == .methodNotAllowed && login.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(String(buffer: login.body).contains("このメソッドは使えません。"))
            #expect(try await api.call(.get, "/api/v1/no-such-thing").status == .notFound)
            #expect(try await api.raw(.delete, "/no/such/page", headers: [:]).status == .notFound)
        }
    }

    @Test func liveServerOverARealSocket() async throws {
        let harness = try APIHarness()
        try await harness.test(.live) { api in
            let user = try await api.createUser("live")
            let (_, totp) = try await api.enrol(user)
            let reply = try await api.submit(totp.code(at: harness.clock.now()).text, for: user, activate: true)
            #expect(reply.status == .ok)
        }
    }
}
