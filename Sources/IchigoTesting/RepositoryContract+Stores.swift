import Foundation
import Ichigo
import OTP

/// The storage contract of the retail, corporate and operator repositories: what each method stores, its
/// compare-and-set rules, all-or-nothing writes and money that neither appears nor vanishes. Run on every
/// backend with the token core checks.
extension RepositoryContract {
    static let storeChecks: [ContractCheck] = [
        ContractCheck(name: "retail: applications void older ones, count wrong mail passwords, complete once", run: applications),
        ContractCheck(name: "retail: provisioning once, activation failures void the issuance", run: provisioning),
        ContractCheck(name: "retail: cancellation of use is compare-and-set and remembered", run: cancellationOfUse),
        ContractCheck(name: "retail: transfers move money once, never below zero", run: retailTransfers),
        ContractCheck(name: "accounts: a branch and account number is opened once in the bank", run: accountNumbers),
        ContractCheck(name: "sessions: store, update, delete, purge idle", run: sessions),
        ContractCheck(name: "outbox: queued in order, sent once, failures back off", run: outbox),
        ContractCheck(name: "corporate: mode change releases every registration of the contract only", run: modeChange),
        ContractCheck(name: "corporate: registration takes inventory or own tokens only, all or nothing", run: registration),
        ContractCheck(name: "corporate: permissions and contract accounts", run: permissionsAndAccounts),
        ContractCheck(name: "corporate: 20 concurrent approvals move the money once", run: approvals),
        ContractCheck(name: "operator: accounts, unique login, lock once under concurrency", run: operators),
        ContractCheck(name: "operator: import all or nothing, inventory search and counts", run: inventory),
        ContractCheck(name: "operator: reissue returns a token to the inventory", run: reissue),
        ContractCheck(name: "operator: audit search by party, action and time", run: auditSearch),
        ContractCheck(name: "api keys: unique names, found by hash, revoked once and kept", run: apiKeys),
        ContractCheck(name: "lock notices: queued in the lock's transaction, only by the failure that locks", run: lockNotices),
    ]

    static func accountNumbers(_ f: ContractFixture) async throws {
        let first = try await f.customer("acct1")
        let second = try await f.customer("acct2")
        try await f.repository.insert(
            Account(id: .random(), userID: first.id, name: "普通", branch: "101", number: "7654321", balance: 0),
            audit: event("account.open"))
        let before = try await f.repository.auditRecords(from: 1, limit: 10_000).count
        for user in [first, second] {
            try await ensureThrows(.accountNumberTaken) {
                try await f.repository.insert(
                    Account(id: .random(), userID: user.id, name: "別", branch: "101", number: "7654321", balance: 5),
                    audit: event("account.open"))
            }
        }
        try ensure(try await f.repository.accounts(of: second.id).isEmpty, "nothing stored for the refused account")
        try ensure(try await f.repository.auditRecords(from: 1, limit: 10_000).count == before, "nor audited")
        try await f.repository.insert(
            Account(id: .random(), userID: second.id, name: "普通", branch: "102", number: "7654321", balance: 0),
            audit: event("account.open"))
        try ensure(try await f.repository.accounts(of: second.id).count == 1, "another branch, the same number: opened")
    }

    static func event(_ action: String, _ subject: String = "t", at now: Date = ContractFixture.start) -> AuditEvent {
        AuditEvent(at: now, actor: "test", action: action, subject: subject, outcome: "ok")
    }

    static func mail(_ subject: String, at now: Date = ContractFixture.start) -> OutgoingMail {
        OutgoingMail(recipient: "someone@example.jp", subject: subject, body: "本文 \(subject)", createdAt: now)
    }

    static func application(for user: User, _ hasher: PasswordHasher, at now: Date = ContractFixture.start) throws
        -> IssuanceApplication
    {
        IssuanceApplication(
            id: .random(), userID: user.id, phoneEmail: "phone@example.jp",
            activationPasswordHash: try hasher.hash("activate"), mailPasswordHash: try hasher.hash("123456"),
            mailPasswordExpiresAt: now + 600, createdAt: now)
    }

    static func softwareToken(_ f: ContractFixture, state: TokenState = .awaitingAppSetup) throws -> Token {
        let id = TokenID.random()
        return Token(
            id: id, serial: .randomSoftware(), kind: .software, state: state,
            sealedSeed: try f.vault.seal(.random(), for: id), parameters: .ichigoDefault,
            createdAt: ContractFixture.start)
    }

    static func hardwareToken(_ f: ContractFixture, _ serial: String) throws -> Token {
        let id = TokenID.random()
        return Token(
            id: id, serial: SerialNumber(rawValue: serial)!, kind: .hardware, state: .issued,
            sealedSeed: try f.vault.seal(.random(), for: id), parameters: .ichigoDefault,
            createdAt: ContractFixture.start)
    }

    static func corporate(_ f: ContractFixture, _ name: String, users logins: [String]) async throws
        -> (Contract, [User])
    {
        let contract = try await f.customers.createCorporateContract(
            name: name, usageMode: .individual, pin: "1234", actor: "test", at: ContractFixture.start)
        var users: [User] = []
        for login in logins {
            users.append(
                try await f.customers.addUser(
                    NewUser(loginID: LoginID(rawValue: login)!, name: "利用者 \(login)", role: .ordinary),
                    to: contract.id, actor: "test", at: ContractFixture.start))
        }
        return (contract, users)
    }

    // MARK: Retail

    static func applications(_ f: ContractFixture) async throws {
        let user = try await f.customer("apply")
        let hasher = PasswordHasher.forTesting
        let first = try application(for: user, hasher)
        try await f.repository.insert(first, mail: mail("first"), audit: event("application.create"))
        try ensure(try await f.repository.application(first.id) == first, "application read back differs")
        let second = try application(for: user, hasher, at: ContractFixture.start + 1)
        try await f.repository.insert(second, mail: mail("second"), audit: event("application.create"))
        try ensure(try await f.repository.application(first.id)?.status == .cancelled, "older application still pending")
        // 戻る from BOT002: a pending application takes a corrected address and activation password, nothing else.
        let newHash = try hasher.hash("9876")
        try ensure(
            try await f.repository.revise(
                second.id, phoneEmail: "new@example.jp", activationPasswordHash: newHash, at: ContractFixture.start,
                audit: event("issuance.revise")),
            "revision refused")
        var expected = second
        expected.phoneEmail = "new@example.jp"
        expected.activationPasswordHash = newHash
        try ensure(try await f.repository.application(second.id) == expected, "revised application differs")
        try ensure(
            !(try await f.repository.revise(
                first.id, phoneEmail: "x@example.jp", activationPasswordHash: newHash, at: ContractFixture.start,
                audit: event("issuance.revise"))),
            "a cancelled application was revised")
        try ensure(try await f.repository.application(first.id)?.phoneEmail == first.phoneEmail, "cancelled one changed")
        // Wrong mail passwords count up to the limit, then the application is void and no longer counts.
        for attempt in 1...3 {
            let count = try await f.repository.recordMailPasswordFailure(
                second.id, maxAttempts: 3, at: ContractFixture.start, audit: event("application.mail_password"))
            try ensure(count == attempt, "attempt \(attempt) counted as \(String(describing: count))")
        }
        try ensure(try await f.repository.application(second.id)?.status == .void, "not void after 3 failures")
        try ensure(
            try await f.repository.recordMailPasswordFailure(
                second.id, maxAttempts: 3, at: ContractFixture.start, audit: event("x")) == nil,
            "a void application still counts failures")
        // Completion is compare-and-set on pending, stores the token, its provisioning and the mail.
        let third = try application(for: user, hasher)
        try await f.repository.insert(third, mail: mail("third"), audit: event("application.create"))
        let token = try softwareToken(f)
        let provisioning = Provisioning(
            tokenID: token.id, serviceID: "12345678", appUserID: "100000000001",
            activationPasswordHash: try hasher.hash("activate"), expiresAt: ContractFixture.start + 3600)
        try ensure(
            !(try await f.repository.complete(
                second.id, token: token, provisioning: provisioning, mail: mail("x"), at: ContractFixture.start,
                audit: [event("application.complete")])),
            "a void application completed")
        try ensure(try await f.repository.token(token.id) == nil, "a refused completion stored the token")
        try ensure(
            try await f.repository.complete(
                third.id, token: token, provisioning: provisioning, mail: mail("issued"), at: ContractFixture.start,
                audit: [event("application.complete")]),
            "completion refused")
        try ensure(try await f.repository.application(third.id)?.status == .completed, "not completed")
        try ensure(try await f.repository.userWithToken(user.id)?.token == token, "token not assigned to the user")
        try ensure(try await f.repository.provisioning(token: token.id) == provisioning, "provisioning by token")
        try ensure(try await f.repository.provisioning(appUserID: "100000000001") == provisioning, "provisioning by app user")
        try ensure(
            !(try await f.repository.complete(
                third.id, token: try softwareToken(f), provisioning: provisioning, mail: mail("x"),
                at: ContractFixture.start, audit: [event("application.complete")])),
            "an application completed twice")
        // Closing is compare-and-set on pending too.
        let fourth = try application(for: user, hasher)
        try await f.repository.insert(fourth, mail: mail("fourth"), audit: event("application.create"))
        try ensure(
            try await f.repository.close(fourth.id, as: .cancelled, at: ContractFixture.start, audit: event("c")),
            "close refused")
        try ensure(
            !(try await f.repository.close(fourth.id, as: .cancelled, at: ContractFixture.start, audit: event("c"))),
            "closed twice")
        let queued = try await f.repository.pendingMails(limit: 100, at: ContractFixture.start).map(\.subject)
        try ensure(queued == ["first", "second", "third", "issued", "fourth"], "mails queued: \(queued)")
    }

    static func provisioning(_ f: ContractFixture) async throws {
        let hasher = PasswordHasher.forTesting
        func issue(_ login: String, appUser: String) async throws -> Token {
            let user = try await f.customer(login)
            let application = try application(for: user, hasher)
            try await f.repository.insert(application, mail: mail(login), audit: event("application.create"))
            let token = try softwareToken(f)
            let provisioning = Provisioning(
                tokenID: token.id, serviceID: "12345678", appUserID: appUser,
                activationPasswordHash: try hasher.hash("activate"), expiresAt: ContractFixture.start + 3600)
            try ensure(
                try await f.repository.complete(
                    application.id, token: token, provisioning: provisioning, mail: mail("issued"),
                    at: ContractFixture.start, audit: [event("application.complete")]),
                "completion refused")
            return token
        }
        let token = try await issue("prov", appUser: "100000000002")
        let serial = SerialNumber(rawValue: "SKTS12345678")!
        try ensure(
            try await f.repository.completeProvisioning(token: token.id, serial: serial, at: ContractFixture.start, audit: event("p")),
            "provisioning refused")
        let stored = try await f.repository.token(token.id)
        try ensure(stored?.state == .issued && stored?.serial == serial, "token after provisioning: \(String(describing: stored))")
        try ensure(try await f.repository.provisioning(token: token.id)?.provisionedAt != nil, "provisioning not marked")
        try ensure(
            !(try await f.repository.completeProvisioning(
                token: token.id, serial: SerialNumber(rawValue: "SKTS12345679")!, at: ContractFixture.start, audit: event("p"))),
            "provisioned twice")
        // Another token may not take a serial in use.
        let other = try await issue("prov2", appUser: "100000000003")
        try await ensureThrows(.serialTaken) {
            _ = try await f.repository.completeProvisioning(
                token: other.id, serial: serial, at: ContractFixture.start, audit: event("p"))
        }
        try ensure(try await f.repository.token(other.id)?.state == .awaitingAppSetup, "refused provisioning moved the token")
        // Wrong activation passwords void the issuance at the limit.
        for attempt in 1...2 {
            let outcome = try await f.repository.recordActivationFailure(
                token: other.id, maxAttempts: 3, at: ContractFixture.start, audit: event("a"))
            try ensure(outcome?.attempts == attempt && outcome?.voided == false, "activation failure \(attempt)")
        }
        let last = try await f.repository.recordActivationFailure(
            token: other.id, maxAttempts: 3, at: ContractFixture.start, audit: event("a"))
        try ensure(last?.attempts == 3 && last?.voided == true, "third failure did not void")
        try ensure(try await f.repository.token(other.id)?.state == .cancelled, "voided token not cancelled")
        try ensure(
            try await f.repository.recordActivationFailure(
                token: other.id, maxAttempts: 3, at: ContractFixture.start, audit: event("a")) == nil,
            "a void issuance still counts")
        // Expiry is compare-and-set on awaiting_app_setup.
        let third = try await issue("prov3", appUser: "100000000004")
        try ensure(
            try await f.repository.expireProvisioning(token: third.id, at: ContractFixture.start, audit: event("e")),
            "expiry refused")
        try ensure(
            !(try await f.repository.expireProvisioning(token: third.id, at: ContractFixture.start, audit: event("e"))),
            "expired twice")
        try ensure(
            !(try await f.repository.expireProvisioning(token: token.id, at: ContractFixture.start, audit: event("e"))),
            "a provisioned token expired")
    }

    static func cancellationOfUse(_ f: ContractFixture) async throws {
        let (user, token, _) = try await f.activeCustomer("cancel")
        try ensure(try await f.repository.otpCancelledAt(of: user.id) == nil, "cancelled before cancelling")
        try ensure(
            !(try await f.repository.cancelUse(
                of: token.id, from: .locked, by: user.id, at: ContractFixture.start, audit: event("c"))),
            "cancelled from the wrong state")
        try ensure(try await f.repository.otpCancelledAt(of: user.id) == nil, "refused cancellation was remembered")
        try ensure(
            try await f.repository.cancelUse(
                of: token.id, from: .active, by: user.id, at: ContractFixture.start, audit: event("c")),
            "cancellation refused")
        try ensure(try await f.repository.token(token.id)?.state == .cancelled, "token not cancelled")
        try ensure(try await f.repository.otpCancelledAt(of: user.id) == ContractFixture.start, "cancellation time")
    }

    static func retailTransfers(_ f: ContractFixture) async throws {
        let payer = try await f.customer("payer")
        let payee = try await f.customer("payee")
        let from = Account(id: "A-payer", userID: payer.id, name: "普通", branch: "001", number: "1000001", balance: 50_000)
        let to = Account(id: "A-payee", userID: payee.id, name: "普通", branch: "002", number: "2000002", balance: 0)
        try await f.repository.insert(from, audit: event("account.open"))
        try await f.repository.insert(to, audit: event("account.open"))
        try ensure(try await f.repository.accounts(of: payer.id) == [from], "payer's accounts")
        func transfer(_ id: TransferID, amount: Int64, account: AccountID = "A-payer", at seconds: TimeInterval) -> Transfer {
            Transfer(
                id: id, accountID: account,
                payee: Payee(bank: Transfer.ownBankCode, branch: "002", account: "2000002", name: "ヤマダ"), amount: amount,
                createdAt: ContractFixture.start + seconds)
        }
        try ensure(
            try await f.repository.execute(transfer("X1", amount: 30_000, at: 1), by: payer.id, audit: event("t")),
            "transfer refused")
        try await ensureThrows(.transferDuplicate) {
            _ = try await f.repository.execute(transfer("X1", amount: 30_000, at: 2), by: payer.id, audit: event("t"))
        }
        // Short of funds: nothing moves.
        try ensure(
            !(try await f.repository.execute(transfer("X2", amount: 30_000, at: 3), by: payer.id, audit: event("t"))),
            "an overdraft was allowed")
        // Another customer's account cannot be debited.
        try await ensureThrows(.accountNotFound) {
            _ = try await f.repository.execute(
                transfer("X3", amount: 1, account: "A-payer", at: 4), by: payee.id, audit: event("t"))
        }
        try ensure(
            try await f.repository.execute(transfer("X4", amount: 20_000, at: 5), by: payer.id, audit: event("t")),
            "second transfer refused")
        let balances = try await (f.repository.accounts(of: payer.id), f.repository.accounts(of: payee.id))
        try ensure(balances.0.first?.balance == 0 && balances.1.first?.balance == 50_000, "balances: \(balances)")
        let history = try await f.repository.transfers(of: payer.id, limit: 10).map(\.id)
        try ensure(history == ["X4", "X1"], "history newest first: \(history)")
        try ensure(try await f.repository.transfers(of: payee.id, limit: 10).isEmpty, "payee sees payer's transfers")
    }

    static func sessions(_ f: ContractFixture) async throws {
        let user = try await f.customer("sess")
        let start = ContractFixture.start
        var session = WebSession(idHash: "h1", csrfToken: "c1", language: .ja, createdAt: start, lastSeenAt: start)
        try await f.repository.insert(session)
        try ensure(try await f.repository.session(idHash: "h1") == session, "session read back")
        session.userID = user.id
        session.stage = .authenticated
        session.flash = "{\"m\":1}"
        session.data = "{\"d\":2}"
        session.language = .en
        session.lastSeenAt = start + 100
        try await f.repository.update(session)
        try ensure(try await f.repository.session(idHash: "h1") == session, "updated session read back")
        try await f.repository.insert(
            WebSession(idHash: "h2", csrfToken: "c2", language: .ja, createdAt: start, lastSeenAt: start + 10))
        try await f.repository.purgeSessions(idleSince: start + 50)
        try ensure(try await f.repository.session(idHash: "h2") == nil, "idle session kept")
        try ensure(try await f.repository.session(idHash: "h1") != nil, "active session purged")
        try await f.repository.deleteSession(idHash: "h1")
        try ensure(try await f.repository.session(idHash: "h1") == nil, "deleted session still there")
    }

    static func outbox(_ f: ContractFixture) async throws {
        let start = ContractFixture.start
        for subject in ["a", "b", "c"] { try await f.repository.enqueue(mail(subject)) }
        let pending = try await f.repository.pendingMails(limit: 10, at: start)
        try ensure(pending.map(\.subject) == ["a", "b", "c"], "outbox order: \(pending.map(\.subject))")
        try ensure(Set(pending.compactMap(\.id)).count == 3, "mails without distinct IDs")
        try ensure(try await f.repository.pendingMails(limit: 2, at: start).count == 2, "limit ignored")
        try ensure(try await f.repository.pendingMails(limit: 10, at: start - 1).isEmpty, "a future mail is due")
        try await f.repository.markSent(pending[0].id!, at: start)
        try await f.repository.markFailed(pending[1].id!, error: "421 try later", at: start)
        let now = try await f.repository.pendingMails(limit: 10, at: start + 1).map(\.subject)
        try ensure(now == ["c"], "after one sent and one failed: \(now)")
        let later = try await f.repository.pendingMails(limit: 10, at: start + 11).map(\.subject)
        try ensure(later == ["b", "c"], "the failed mail is not retried after its back-off: \(later)")
        try await f.repository.markFailed(pending[1].id!, error: "421 try later", at: start + 11)
        let backedOff = try await f.repository.pendingMails(limit: 10, at: start + 25).map(\.subject)
        try ensure(backedOff == ["c"], "the second back-off is not longer: \(backedOff)")
        try ensure(
            try await f.repository.pendingMails(limit: 10, at: start + 32).map(\.subject) == ["b", "c"],
            "not retried after 20 s")
    }

    // MARK: Corporate

    static func modeChange(_ f: ContractFixture) async throws {
        let (alice, bob, token, _) = try await f.activeColleagues("m-alice", "m-bob")
        _ = try await f.tokens.share(token.serial, with: bob.id, actor: "admin", at: ContractFixture.start)
        let (_, outsider, outsiderToken, _) = try await f.activeColleagues("m-carol", "m-dave")
        _ = try await f.tokens.share(outsiderToken.serial, with: outsider.id, actor: "admin", at: ContractFixture.start)
        let released = try await f.repository.changeUsageMode(
            of: alice.contractID, to: .shared, at: ContractFixture.start, audit: event("contract.mode", alice.contractID.rawValue))
        try ensure(Set(released) == [alice.id, bob.id], "released: \(released)")
        try ensure(try await f.repository.contract(alice.contractID)?.usageMode == .shared, "mode not stored")
        try ensure(try await f.repository.users(holding: token.id).isEmpty, "a registration survived the mode change")
        try ensure(try await f.repository.token(token.id)?.contractID == alice.contractID, "the token left the contract")
        try ensure(try await f.repository.users(holding: outsiderToken.id).count == 2, "another contract was touched")
        let trail = try await f.repository.auditRecords(matching: AuditFilter(action: "contract.mode"), limit: 5)
        try ensure(trail.first?.event.reason?.contains("released=2") == true, "mode change audit: \(trail)")
        let retail = try await f.customer("m-retail")
        try await ensureThrows(.contractNotFound) {
            _ = try await f.repository.changeUsageMode(
                of: retail.contractID, to: .shared, at: ContractFixture.start, audit: event("contract.mode"))
        }
    }

    static func registration(_ f: ContractFixture) async throws {
        let (contract, users) = try await corporate(f, "登録", users: ["r-one", "r-two"])
        let (other, strangers) = try await corporate(f, "他社", users: ["r-three"])
        let fob = try hardwareToken(f, "SKTH10000001")
        try await f.repository.importTokens([fob], audit: [event("token.import", fob.serial.rawValue)])
        try await f.repository.register(
            fob.id, to: contract.id, for: users.map(\.id), at: ContractFixture.start,
            audit: [event("token.register")], mails: [mail("registered")])
        try ensure(try await f.repository.token(fob.id)?.contractID == contract.id, "inventory token not given to the contract")
        try ensure(Set(try await f.repository.users(holding: fob.id).map(\.id)) == Set(users.map(\.id)), "holders")
        try ensure(try await f.repository.tokens(ofContract: contract.id).map(\.id) == [fob.id], "contract's tokens")
        try ensure(
            try await f.repository.pendingMails(limit: 10, at: ContractFixture.start).map(\.subject) == ["registered"],
            "registration mail")
        // Another contract's token is refused, and so is a mix of users across contracts: nothing changes.
        try await ensureThrows(.tokenNotRegistrable) {
            try await f.repository.register(
                fob.id, to: other.id, for: strangers.map(\.id), at: ContractFixture.start, audit: [event("r")], mails: [])
        }
        let second = try hardwareToken(f, "SKTH10000002")
        try await f.repository.importTokens([second], audit: [event("token.import")])
        try await ensureThrows(.userNotFound) {
            try await f.repository.register(
                second.id, to: contract.id, for: [users[0].id, strangers[0].id], at: ContractFixture.start,
                audit: [event("r")], mails: [mail("never")])
        }
        try ensure(try await f.repository.token(second.id)?.contractID == nil, "a refused registration took the token")
        try ensure(try await f.repository.user(users[0].id)?.tokenID == fob.id, "a refused registration moved a user")
        try ensure(
            try await f.repository.pendingMails(limit: 10, at: ContractFixture.start).map(\.subject) == ["registered"],
            "a refused registration queued its mail")
        // A retail customer's software token and a revoked token are refused.
        let (_, retailToken, _) = try await f.activeCustomer("r-retail")
        try await ensureThrows(.tokenNotRegistrable) {
            try await f.repository.register(
                retailToken.id, to: contract.id, for: [users[0].id], at: ContractFixture.start, audit: [], mails: [])
        }
        let revoked = try hardwareToken(f, "SKTH10000003")
        try await f.repository.importTokens([revoked], audit: [event("token.import")])
        _ = try await f.repository.transition(
            revoked.id, from: .issued, to: .revoked, resetFailures: false, at: ContractFixture.start, audit: event("x"))
        try await ensureThrows(.tokenNotRegistrable) {
            try await f.repository.register(
                revoked.id, to: contract.id, for: [users[0].id], at: ContractFixture.start, audit: [], mails: [])
        }
        // A new serial replaces a user's registration; deregistration removes it.
        try await f.repository.register(
            second.id, to: contract.id, for: [users[0].id], at: ContractFixture.start, audit: [event("r")], mails: [])
        try ensure(try await f.repository.user(users[0].id)?.tokenID == second.id, "replacement")
        try ensure(try await f.repository.user(users[1].id)?.tokenID == fob.id, "replacement touched the other user")
        try await f.repository.deregister([users[1].id], at: ContractFixture.start, audit: [event("token.deregister")])
        try ensure(try await f.repository.users(holding: fob.id).isEmpty, "deregistered user still holds the token")
        try ensure(try await f.repository.token(fob.id)?.contractID == contract.id, "deregistered token left the contract")
    }

    static func permissionsAndAccounts(_ f: ContractFixture) async throws {
        let (contract, users) = try await corporate(f, "権限", users: ["p-one"])
        let first = Account(id: "C-1", userID: users[0].id, name: "当座", branch: "001", number: "7000002", balance: 10)
        let second = Account(id: "C-2", userID: users[0].id, name: "普通", branch: "001", number: "7000001", balance: 20)
        try await f.repository.insert(first, for: contract.id, audit: event("account.open"))
        try await f.repository.insert(second, for: contract.id, audit: event("account.open"))
        try ensure(try await f.repository.accounts(ofContract: contract.id) == [second, first], "contract accounts by number")
        let permissions = Permissions(
            authorities: [.transfer, .transferApproval], accountLimits: ["C-1": 1_000_000, "C-2": 5])
        try await f.repository.setPermissions(permissions, of: users[0].id, audit: event("user.permissions"))
        try ensure(try await f.repository.user(users[0].id)?.permissions == permissions, "permissions read back")
        try ensure(
            try await f.repository.user(loginID: users[0].loginID)?.permissions == permissions, "permissions by login")
        try await ensureThrows(.userNotFound) {
            try await f.repository.setPermissions(permissions, of: .random(), audit: event("user.permissions"))
        }
    }

    static func approvals(_ f: ContractFixture) async throws {
        let (contract, users) = try await corporate(f, "承認", users: ["a-maker", "a-checker"])
        let payer = try await f.customer("a-payee")
        try await f.repository.insert(
            Account(id: "C-main", userID: users[0].id, name: "普通", branch: "003", number: "3000003", balance: 100_000),
            for: contract.id, audit: event("account.open"))
        try await f.repository.insert(
            Account(id: "A-payee", userID: payer.id, name: "普通", branch: "004", number: "4000004", balance: 0),
            audit: event("account.open"))
        func data(_ id: TransferID, amount: Int64, at seconds: TimeInterval) -> CorporateTransfer {
            CorporateTransfer(
                id: id, contractID: contract.id, accountID: "C-main",
                payee: Payee(bank: Transfer.ownBankCode, branch: "004", account: "4000004", name: "ヤマダ"), amount: amount,
                createdBy: users[0].id, createdAt: ContractFixture.start + seconds)
        }
        try await f.repository.insert(data("K1", amount: 60_000, at: 1), audit: event("transfer.create"))
        try await f.repository.insert(data("K2", amount: 60_000, at: 2), audit: event("transfer.create"))
        try await ensureThrows(.transferDuplicate) {
            try await f.repository.insert(data("K1", amount: 1, at: 3), audit: event("transfer.create"))
        }
        let listed = try await f.repository.corporateTransfers(of: contract.id, status: .pending, limit: 10).map(\.id)
        try ensure(listed == ["K2", "K1"], "pending newest first: \(listed)")
        let repository = f.repository
        let checker = users[1].id
        let outcomes = try await withThrowingTaskGroup(of: ApprovalOutcome.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await repository.approve("K1", by: checker, at: ContractFixture.start, audit: event("transfer.approve"))
                }
            }
            var all: [ApprovalOutcome] = []
            for try await outcome in group { all.append(outcome) }
            return all
        }
        try ensure(outcomes.filter { $0 == .approved }.count == 1, "approved \(outcomes.filter { $0 == .approved }.count) times")
        try ensure(outcomes.allSatisfy { $0 == .approved || $0 == .notPending }, "outcomes: \(Set(outcomes))")
        // The second transfer exceeds what is left: it stays pending and nothing moves.
        try ensure(
            try await f.repository.approve("K2", by: checker, at: ContractFixture.start, audit: event("a")) == .insufficientFunds,
            "an overdraft was approved")
        let approved = try await f.repository.corporateTransfer("K1")
        try ensure(
            approved?.status == .approved && approved?.approvedBy == checker && approved?.approvedAt == ContractFixture.start,
            "approved transfer: \(String(describing: approved))")
        try ensure(try await f.repository.corporateTransfer("K2")?.status == .pending, "short transfer not pending")
        let main = try await f.repository.accounts(ofContract: contract.id).first?.balance
        let payee = try await f.repository.accounts(of: payer.id).first?.balance
        try ensure(main == 40_000 && payee == 60_000, "balances: \(String(describing: main)) \(String(describing: payee))")
        try ensure(
            try await f.repository.corporateTransfers(of: contract.id, status: .approved, limit: 10).map(\.id) == ["K1"],
            "approved list")
        try ensure(try await f.repository.corporateTransfers(of: contract.id, status: nil, limit: 1).count == 1, "limit")
        try ensure(
            try await f.repository.approve("nothing", by: checker, at: ContractFixture.start, audit: event("a")) == .notPending,
            "an unknown transfer was approved")
    }

    // MARK: Operator

    static func operators(_ f: ContractFixture) async throws {
        let hasher = PasswordHasher.forTesting
        let clerk = BankOperator(
            id: .random(), loginID: LoginID(rawValue: "clerk")!, name: "窓口 花子",
            passwordHash: try hasher.hash("correct-horse"), createdAt: ContractFixture.start)
        try await f.repository.insert(clerk, audit: event("operator.create"))
        try ensure(try await f.repository.bankOperator(clerk.id) == clerk, "operator by ID")
        try ensure(try await f.repository.bankOperator(loginID: clerk.loginID) == clerk, "operator by login")
        var twin = clerk
        twin.id = .random()
        try await ensureThrows(.loginIDTaken) { try await f.repository.insert(twin, audit: event("operator.create")) }
        try ensure(try await f.repository.bankOperator(twin.id) == nil, "a refused operator was stored")
        _ = try await f.repository.recordOperatorPasswordFailure(clerk.id, lockingAt: 5, audit: event("operator.login"))
        try await f.repository.resetOperatorPasswordFailures(clerk.id)
        try ensure(try await f.repository.bankOperator(clerk.id)?.passwordFailures == 0, "reset")
        let repository = f.repository
        let outcomes = try await withThrowingTaskGroup(of: FailureOutcome?.self) { group in
            for _ in 0..<12 {
                group.addTask {
                    try await repository.recordOperatorPasswordFailure(clerk.id, lockingAt: 5, audit: event("operator.login"))
                }
            }
            var all: [FailureOutcome?] = []
            for try await outcome in group { all.append(outcome) }
            return all
        }
        try ensure(outcomes.filter { $0?.lockedNow == true }.count == 1, "lock reported \(outcomes.filter { $0?.lockedNow == true }.count) times")
        try ensure(outcomes.compactMap { $0 }.count == 5, "failures counted after the lock: \(outcomes)")
        let locked = try await f.repository.bankOperator(clerk.id)
        try ensure(locked?.locked == true && locked?.passwordFailures == 5, "locked operator: \(String(describing: locked))")
        try await f.repository.resetOperatorPasswordFailures(clerk.id)
        try ensure(try await f.repository.bankOperator(clerk.id)?.passwordFailures == 5, "a reset lifted a lock's count")
        let newHash = try hasher.hash("battery-staple")
        try await f.repository.unlockOperator(clerk.id, newPasswordHash: newHash, audit: event("operator.unlock"))
        let unlocked = try await f.repository.bankOperator(clerk.id)
        try ensure(
            unlocked?.locked == false && unlocked?.passwordFailures == 0 && unlocked?.passwordHash == newHash,
            "unlock with a new password")
        try await ensureThrows(.userNotFound) {
            try await f.repository.unlockOperator(.random(), newPasswordHash: nil, audit: event("operator.unlock"))
        }
    }

    static func inventory(_ f: ContractFixture) async throws {
        let batch = try (1...5).map { try hardwareToken(f, String(format: "SKTH2000%04d", $0)) }
        try await f.repository.importTokens(batch, audit: batch.map { event("token.import", $0.serial.rawValue) })
        // A batch with one serial already stored imports nothing.
        let again = try [hardwareToken(f, "SKTH30000001"), hardwareToken(f, "SKTH20000003")]
        do {
            try await f.repository.importTokens(again, audit: [event("token.import")])
            throw ContractFailure("a batch with a stored serial was imported")
        } catch let error as IchigoError {
            try ensure(error.code == .importFailed, "duplicate import: \(error.code)")
            try ensure(error.detail?.contains("SKTH20000003") == true, "the error does not name the serial: \(error)")
        }
        try ensure(
            try await f.repository.token(serial: SerialNumber(rawValue: "SKTH30000001")!) == nil,
            "part of a refused batch was stored")
        let (_, software, _) = try await f.activeCustomer("inv")
        try ensure(
            try await f.repository.tokens(matching: TokenFilter(kind: .hardware), limit: 100, offset: 0).map(\.serial)
                == batch.map(\.serial), "hardware tokens by serial")
        try ensure(
            try await f.repository.tokens(matching: TokenFilter(serialPrefix: "skth2000000"), limit: 100, offset: 0).count
                == 5, "serial prefix (any case)")
        try ensure(
            try await f.repository.tokens(matching: TokenFilter(kind: .hardware), limit: 2, offset: 2).map(\.serial)
                == batch[2..<4].map(\.serial), "paging")
        try ensure(
            try await f.repository.tokens(matching: TokenFilter(state: .active), limit: 100, offset: 0).map(\.id)
                == [software.id], "by state")
        let (contract, users) = try await corporate(f, "在庫", users: ["inv-user"])
        try await f.repository.register(
            batch[0].id, to: contract.id, for: [users[0].id], at: ContractFixture.start, audit: [event("r")], mails: [])
        try ensure(
            try await f.repository.tokens(matching: TokenFilter(kind: .hardware, unassignedOnly: true), limit: 100, offset: 0)
                .count == 4, "inventory only")
        let counts = try await f.repository.tokenCounts()
        try ensure(counts[.hardware]?[.issued] == 5 && counts[.software]?[.active] == 1, "counts: \(counts)")
        let found = try await f.repository.users(loginIDPrefix: "inv", limit: 10).map(\.loginID.rawValue)
        try ensure(found == ["inv", "inv-user"], "users by login prefix: \(found)")
    }

    static func reissue(_ f: ContractFixture) async throws {
        let (contract, users) = try await corporate(f, "再発行", users: ["re-one", "re-two"])
        let fob = try hardwareToken(f, "SKTH40000001")
        try await f.repository.importTokens([fob], audit: [event("token.import")])
        try await f.repository.register(
            fob.id, to: contract.id, for: users.map(\.id), at: ContractFixture.start, audit: [event("r")], mails: [])
        _ = try await f.repository.recordFailure(
            for: fob.id, lockingAt: 1, at: ContractFixture.start, audit: event("otp.verify"), lockAudit: event("token.lock"))
        try ensure(try await f.repository.token(fob.id)?.state == .locked, "not locked")
        try ensure(
            try await f.repository.returnToInventory(fob.id, at: ContractFixture.start, audit: event("token.reissue")),
            "reissue refused")
        let back = try await f.repository.token(fob.id)
        try ensure(
            back?.state == .issued && back?.contractID == nil && back?.failureCount == 0,
            "reissued token: \(String(describing: back))")
        try ensure(try await f.repository.users(holding: fob.id).isEmpty, "holders kept the reissued token")
        let (_, software, _) = try await f.activeCustomer("re-soft")
        try ensure(
            !(try await f.repository.returnToInventory(software.id, at: ContractFixture.start, audit: event("x"))),
            "a software token went to the inventory")
        _ = try await f.repository.transition(
            fob.id, from: .issued, to: .revoked, resetFailures: false, at: ContractFixture.start, audit: event("x"))
        try ensure(
            !(try await f.repository.returnToInventory(fob.id, at: ContractFixture.start, audit: event("x"))),
            "a revoked token went back to the inventory")
    }

    static func auditSearch(_ f: ContractFixture) async throws {
        let user = try await f.customer("search")
        let start = ContractFixture.start
        try await f.repository.append(
            AuditEvent(at: start + 10, actor: "user:\(user.id.rawValue)", action: "transfer.execute", subject: "X1", outcome: "ok"))
        try await f.repository.append(
            AuditEvent(at: start + 20, actor: "operator:o1", action: "token.assign", subject: "SKTH1", outcome: "ok",
                       reason: "user=\(user.id.rawValue) branch application"))
        try await f.repository.append(
            AuditEvent(at: start + 30, actor: "api", action: "token.assign", subject: "SKTH2", outcome: "ok"))
        let byParty = try await f.repository.auditRecords(matching: AuditFilter(party: user.id.rawValue), limit: 10)
        try ensure(
            byParty.map(\.event.action) == ["token.assign", "transfer.execute", "user.create"],
            "by party, newest first: \(byParty.map(\.event.action))")
        let byAction = try await f.repository.auditRecords(matching: AuditFilter(action: "token.assign"), limit: 10)
        try ensure(byAction.map(\.event.subject) == ["SKTH2", "SKTH1"], "by action: \(byAction.map(\.event.subject))")
        let window = try await f.repository.auditRecords(
            matching: AuditFilter(from: start + 10, until: start + 30), limit: 10)
        try ensure(window.map(\.event.subject) == ["SKTH1", "X1"], "by time: \(window.map(\.event.subject))")
        try ensure(try await f.repository.auditRecords(matching: AuditFilter(), limit: 2).count == 2, "limit")
    }

    static func apiKeys(_ f: ContractFixture) async throws {
        let start = ContractFixture.start
        let verify = APIKey(name: "gateway", secretHash: APIKey.hash(secret: "secret-gateway-1234"), scopes: [.verify, .read], createdAt: start)
        let admin = APIKey(name: "admin", secretHash: APIKey.hash(secret: "secret-admin-123456"), scopes: [.admin], createdAt: start)
        try await f.repository.insert(verify, audit: event("apikey.create", "apikey:gateway"))
        try await f.repository.insert(admin, audit: event("apikey.create", "apikey:admin"))
        try await ensureThrows(.apiKeyNameTaken) {
            try await f.repository.insert(
                APIKey(name: "gateway", secretHash: APIKey.hash(secret: "another-secret-99"), scopes: [.read], createdAt: start),
                audit: event("apikey.create"))
        }
        try await ensureThrows(.apiKeyNameTaken) {
            try await f.repository.insert(
                APIKey(name: "other", secretHash: verify.secretHash, scopes: [.read], createdAt: start), audit: event("apikey.create"))
        }
        try ensure(try await f.repository.apiKeys().map(\.name) == ["admin", "gateway"], "listed by name")
        let found = try await f.repository.apiKey(secretHash: verify.secretHash)
        try ensure(found == verify, "found by hash: \(String(describing: found))")
        try ensure(try await f.repository.apiKey(secretHash: APIKey.hash(secret: "nope-nope-nope-nope")) == nil, "unknown hash")
        try ensure(try await f.repository.revokeAPIKey(name: "gateway", at: start + 60, audit: event("apikey.revoke")), "revoke")
        try ensure(!(try await f.repository.revokeAPIKey(name: "gateway", at: start + 61, audit: event("apikey.revoke"))), "twice")
        try ensure(!(try await f.repository.revokeAPIKey(name: "nobody", at: start + 61, audit: event("apikey.revoke"))), "unknown")
        let revoked = try await f.repository.apiKey(secretHash: verify.secretHash)
        try ensure(revoked?.revokedAt == start + 60 && revoked?.allows(.verify) == false, "kept as revoked: \(String(describing: revoked))")
        try ensure(try await f.repository.apiKey(secretHash: admin.secretHash)?.revokedAt == nil, "the other key untouched")
        let trail = try await f.repository.auditRecords(matching: AuditFilter(action: "apikey.revoke"), limit: 10)
        try ensure(trail.count == 1, "one revocation audited, got \(trail.count)")
    }

    static func lockNotices(_ f: ContractFixture) async throws {
        let user = try await f.customer("notice")
        let (token, _) = try await f.tokens.enrolSoftwareToken(for: user.id, actor: "test", at: ContractFixture.start)
        let notice = [mail("token locked 1"), mail("token locked 2")]
        for attempt in 1...6 {
            let outcome = try await f.repository.recordFailure(
                for: token.id, lockingAt: 5, at: ContractFixture.start, audit: event("otp.verify"),
                lockAudit: event("token.lock"), lockMails: notice)
            let pending = try await f.repository.pendingMails(limit: 10, at: ContractFixture.start)
            try ensure(pending.count == (attempt >= 5 ? 2 : 0), "attempt \(attempt): \(pending.count) mails queued")
            if attempt == 6 { try ensure(outcome == nil, "a locked token counts no more") }
        }
        for attempt in 1...6 {
            _ = try await f.repository.recordPasswordFailure(
                of: user.id, lockingAt: 5, at: ContractFixture.start, audit: event("login.password"),
                lockAudit: event("login.lock"), lockMails: [mail("login locked")])
            let pending = try await f.repository.pendingMails(limit: 10, at: ContractFixture.start)
            try ensure(pending.count == (attempt >= 5 ? 3 : 2), "password attempt \(attempt): \(pending.count) mails queued")
        }
    }
}
