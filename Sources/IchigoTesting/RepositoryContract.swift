import Foundation
import Ichigo
import Logging
import OTP

/// A failed expectation in the contract suite.
public struct ContractFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String, file: StaticString = #fileID, line: UInt = #line) {
        self.description = "\(description) (\(file):\(line))"
    }
}

/// Throws `ContractFailure` unless `condition` holds.
public func ensure(
    _ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line
) throws {
    if !condition { throw ContractFailure(message(), file: file, line: line) }
}

/// Throws unless `body` throws an `IchigoError` with `code`.
public func ensureThrows(
    _ code: IchigoError.Code, file: StaticString = #fileID, line: UInt = #line, _ body: () async throws -> Void
) async throws {
    do {
        try await body()
    } catch let error as IchigoError {
        try ensure(error.code == code, "expected \(code), got \(error.code)", file: file, line: line)
        return
    }
    throw ContractFailure("expected \(code), nothing was thrown", file: file, line: line)
}

/// Everything a contract check needs: a fresh repository and the services on top of it.
public struct ContractFixture: Sendable {
    public let repository: any IchigoStore
    public let masterKey: MasterKey
    /// Key versions, shared with the repository's audit chain when the harness gives it (`keyring:`), so the key
    /// checks can rotate under the store.
    public let keyring: Keyring
    public let chain: AuditChain
    public let vault: SeedVault
    public let tokens: TokenService
    public let customers: CustomerService
    /// 2026-11-22 10:00:30 JST: mid-step for a 60 s period.
    public static let start = Date(timeIntervalSince1970: 1_795_309_230)

    /// - Parameter keyring: the keyring of the repository's audit chain (version 1 being `masterKey`); without it, a
    ///   keyring of the fixture's own.
    public init(
        repository: any IchigoStore, masterKey: MasterKey, keyring: Keyring? = nil, policy: OTPPolicy = .standard
    ) {
        self.repository = repository
        self.masterKey = masterKey
        let keyring = keyring ?? Keyring(masterKey)
        self.keyring = keyring
        self.chain = AuditChain(keyring: keyring)
        self.vault = SeedVault(keyring: keyring)
        self.tokens = TokenService(
            repository: repository, vault: vault, policy: policy, logger: Logger(label: "ichigo.contract"))
        self.customers = CustomerService(repository: repository, hasher: .forTesting)
    }

    /// A new retail customer with login ID `loginID`.
    public func customer(_ loginID: String) async throws -> User {
        try await customers.createRetailCustomer(
            NewUser(
                loginID: LoginID(rawValue: loginID)!, name: "山田 \(loginID)", email: "\(loginID)@example.jp",
                loginPassword: "login-\(loginID)", confirmationPassword: "conf12"),
            actor: "test", at: Self.start)
    }

    /// Two users of a new corporate contract; the first has an active software token.
    public func activeColleagues(_ first: String, _ second: String, at now: Date = start) async throws
        -> (User, User, Token, TOTP)
    {
        let contract = try await customers.createCorporateContract(
            name: "法人 \(first)", usageMode: .individual, pin: "1234", actor: "test", at: now)
        var users: [User] = []
        for login in [first, second] {
            users.append(
                try await customers.addUser(
                    NewUser(loginID: LoginID(rawValue: login)!, name: "利用者 \(login)", role: .ordinary),
                    to: contract.id, actor: "test", at: now))
        }
        let (token, seed) = try await tokens.enrolSoftwareToken(for: users[0].id, actor: "test", at: now - 60)
        let totp = TOTP(seed: seed, parameters: token.parameters)
        let result = try await tokens.activate(totp.code(at: now - 60), for: users[0].id, actor: "test", at: now - 60)
        try ensure(result.isAccepted, "activation failed: \(result)")
        return (users[0], users[1], try await repository.token(token.id)!, totp)
    }

    /// A new customer with an active software token; returns the user, token and a generator for its codes.
    public func activeCustomer(_ loginID: String, at now: Date = start) async throws -> (User, Token, TOTP) {
        let user = try await customer(loginID)
        let (token, seed) = try await tokens.enrolSoftwareToken(for: user.id, actor: "test", at: now - 60)
        let totp = TOTP(seed: seed, parameters: token.parameters)
        // Activate a step earlier, so the current step's code stays fresh for the test.
        let result = try await tokens.activate(totp.code(at: now - 60), for: user.id, actor: "test", at: now - 60)
        try ensure(result.isAccepted, "activation failed: \(result)")
        return (user, try await repository.token(token.id)!, totp)
    }
}

/// One check of the repository contract, runnable against any backend.
public struct ContractCheck: Sendable, CustomStringConvertible {
    public let name: String
    public let run: @Sendable (ContractFixture) async throws -> Void
    public var description: String { name }
}

/// The contract every `IchigoRepository` must honour, written once and run against every backend
/// (the Ory Kratos idea): plain storage, the once-only rule, exact failure counting under concurrency,
/// sharing, lockout and the audit chain.
public enum RepositoryContract {
    /// Every check: the token core here, the retail, corporate and operator storage in `RepositoryContract+Stores`.
    public static var checks: [ContractCheck] {
        core + storeChecks + signingChecks + passkeyChecks + keyChecks + auditTrailChecks
    }

    static let core: [ContractCheck] = [
        ContractCheck(name: "users: store, read, unique login ID", run: usersRoundTrip),
        ContractCheck(name: "tokens: store, read, unique serial, one live token per user", run: tokensRoundTrip),
        ContractCheck(name: "acceptance: only a later step moves the token", run: acceptanceIsMonotonic),
        ContractCheck(name: "acceptance: refused when the token is in another state", run: acceptanceNeedsState),
        ContractCheck(name: "failures: counted and locked at the threshold", run: failuresLock),
        ContractCheck(name: "unlock: a token locked before its first code goes back to awaiting it", run: unlockBeforeActivation),
        ContractCheck(name: "transition: compare-and-set", run: transitionCompareAndSet),
        ContractCheck(name: "sharing: a code used by one sharer is refused for another", run: sharingIsPerToken),
        ContractCheck(name: "sharing: a lock stops every sharer", run: lockStopsSharers),
        ContractCheck(name: "verify: window, drift and replay", run: windowAndDrift),
        ContractCheck(name: "concurrency: 50 tasks, same valid code, exactly one accepted", run: concurrentReplay),
        ContractCheck(name: "concurrency: 30 wrong codes at once lock exactly once", run: concurrentFailures),
        ContractCheck(
            name: "batched verification: 25 customers' codes, repeats and wrong codes at once, each decided once",
            run: batchedVerifications),
        ContractCheck(name: "audit: every change chained and verifiable", run: auditChain),
        ContractCheck(name: "passwords: 20 wrong at once stop the login exactly once", run: passwordLockout),
    ]

    static func usersRoundTrip(_ f: ContractFixture) async throws {
        let user = try await f.customer("taro")
        let byID = try await f.repository.user(user.id)
        try ensure(byID == user, "user read back by ID differs")
        let byLogin = try await f.repository.user(loginID: user.loginID)
        try ensure(byLogin == user, "user read back by login ID differs")
        try ensure(try await f.repository.contract(user.contractID)?.kind == .retail, "contract missing")
        try await ensureThrows(.loginIDTaken) { _ = try await f.customer("taro") }
        try ensure(try await f.repository.userCount() == 1, "a refused user was stored")
        let orphan = User(
            id: .random(), contractID: .random(), loginID: LoginID(rawValue: "orphan")!, name: "x", role: .customer,
            createdAt: ContractFixture.start)
        try await ensureThrows(.contractNotFound) {
            try await f.repository.insert(
                orphan,
                audit: AuditEvent(at: ContractFixture.start, actor: "t", action: "t", subject: "t", outcome: "ok"))
        }
        try ensure(try await f.repository.user(orphan.id) == nil, "orphan user stored")
    }

    static func tokensRoundTrip(_ f: ContractFixture) async throws {
        let user = try await f.customer("hanako")
        let (token, seed) = try await f.tokens.enrolSoftwareToken(
            for: user.id, actor: "test", at: ContractFixture.start)
        try ensure(token.serial.rawValue.hasPrefix("SKTS"), "software serial prefix")
        try ensure(try await f.repository.token(serial: token.serial) == token, "token by serial differs")
        try ensure(try await f.repository.token(token.id) == token, "token by ID differs")
        let opened = try f.vault.open(token.sealedSeed, for: token.id)
        try ensure(opened == seed, "stored seed does not open to the issued seed")
        try ensure(!token.sealedSeed.combined.contains(subsequence: seed.bytes), "seed stored in clear")
        try ensure(try await f.repository.userWithToken(user.id)?.token?.id == token.id, "user's token not set")
        try await ensureThrows(.tokenAlreadyAssigned) {
            _ = try await f.tokens.enrolSoftwareToken(for: user.id, actor: "test", at: ContractFixture.start)
        }
        // Same serial twice is refused and stores nothing.
        let other = try await f.customer("jiro")
        var copy = token
        copy.id = .random()
        try await ensureThrows(.serialTaken) {
            try await f.repository.insert(
                copy, assigningTo: [other.id],
                audit: AuditEvent(at: ContractFixture.start, actor: "t", action: "t", subject: "t", outcome: "ok"))
        }
        try ensure(try await f.repository.token(copy.id) == nil, "duplicate serial stored")
        try ensure(try await f.repository.user(other.id)?.tokenID == nil, "refused insert assigned a token")
        // After cancellation the user may receive a new token.
        try await f.tokens.apply(.cancel, to: token, actor: "test", at: ContractFixture.start)
        let (second, _) = try await f.tokens.enrolSoftwareToken(for: user.id, actor: "test", at: ContractFixture.start)
        try ensure(second.serial != token.serial, "new issuance reused the serial")
    }

    static func acceptanceIsMonotonic(_ f: ContractFixture) async throws {
        let (_, token, _) = try await f.activeCustomer("mono")
        let now = ContractFixture.start
        let base = token.lastAcceptedStep
        func accept(_ step: Int64) async throws -> Bool {
            try await f.repository.recordAcceptance(
                ofStep: step, driftSteps: 0, for: token.id, in: .active, at: now,
                audit: AuditEvent(at: now, actor: "t", action: "otp.verify", subject: "t", outcome: "accepted"), mail: nil)
        }
        try ensure(try await accept(base + 2), "a later step was refused")
        try ensure(!(try await accept(base + 2)), "the same step was accepted twice")
        try ensure(!(try await accept(base + 1)), "an earlier step was accepted")
        try ensure(try await accept(base + 3), "the next step was refused")
        try ensure(try await f.repository.token(token.id)?.lastAcceptedStep == base + 3, "last step not stored")
    }

    static func acceptanceNeedsState(_ f: ContractFixture) async throws {
        let (_, token, _) = try await f.activeCustomer("state")
        let now = ContractFixture.start
        let moved = try await f.repository.transition(
            token.id, from: .active, to: .locked, resetFailures: false, at: now,
            audit: AuditEvent(at: now, actor: "t", action: "token.lock", subject: "t", outcome: "ok"))
        try ensure(moved, "transition active→locked failed")
        let accepted = try await f.repository.recordAcceptance(
            ofStep: token.lastAcceptedStep + 5, driftSteps: 0, for: token.id, in: .active, at: now,
            audit: AuditEvent(at: now, actor: "t", action: "otp.verify", subject: "t", outcome: "accepted"), mail: nil)
        try ensure(!accepted, "a locked token accepted a code")
    }

    static func failuresLock(_ f: ContractFixture) async throws {
        let (user, token, totp) = try await f.activeCustomer("fail")
        let now = ContractFixture.start
        let wrong = wrongCode(for: totp, near: token.parameters.step(at: now))
        for attempt in 1...4 {
            let result = try await f.tokens.verify(wrong, for: user.id, actor: "test", at: now)
            // The fourth wrong code warns that the next one stops the token (残り1回).
            let expected: Refusal = attempt == 4 ? .invalidCodeLastTry : .invalidCode
            try ensure(result == .refused(expected), "attempt \(attempt): \(result)")
            try ensure(try await f.repository.token(token.id)?.failureCount == attempt, "count after \(attempt)")
        }
        let fifth = try await f.tokens.verify(wrong, for: user.id, actor: "test", at: now)
        try ensure(fifth == .refused(.lockedByThisAttempt), "fifth wrong code: \(fifth)")
        try ensure(try await f.repository.token(token.id)?.state == .locked, "not locked after 5")
        // Even the right code is refused now.
        let right = try await f.tokens.verify(totp.code(at: now), for: user.id, actor: "test", at: now)
        try ensure(right == .refused(.locked), "locked token: \(right)")
        // Unlock resets the count; the right code works again.
        let unlocked = try await f.tokens.apply(.unlock, toSerial: token.serial, actor: "operator", at: now)
        try ensure(
            unlocked.state == .active && unlocked.failureCount == 0,
            "unlock: \(unlocked.state) \(unlocked.failureCount)")
        let again = try await f.tokens.verify(totp.code(at: now), for: user.id, actor: "test", at: now)
        try ensure(again.isAccepted, "after unlock: \(again)")
        // A success resets the count.
        _ = try await f.tokens.verify(wrong, for: user.id, actor: "test", at: now + 60)
        _ = try await f.tokens.verify(totp.code(at: now + 60), for: user.id, actor: "test", at: now + 60)
        try ensure(try await f.repository.token(token.id)?.failureCount == 0, "success did not reset the count")
    }

    /// Issue 9 defect 3: unlocking a token locked by wrong activation codes made it active, skipping the first code.
    static func unlockBeforeActivation(_ f: ContractFixture) async throws {
        let user = try await f.customer("firstcode")
        let now = ContractFixture.start
        let (token, seed) = try await f.tokens.enrolSoftwareToken(for: user.id, actor: "test", at: now)
        try ensure(token.state == .issued, "enrolled as \(token.state)")
        let totp = TOTP(seed: seed, parameters: token.parameters)
        let wrong = wrongCode(for: totp, near: token.parameters.step(at: now))
        for _ in 1...5 { _ = try await f.tokens.activate(wrong, for: user.id, actor: "test", at: now) }
        let locked = try await f.repository.token(token.id)
        try ensure(locked?.state == .locked && locked?.lockedFrom == .issued, "after 5 wrong first codes: \(String(describing: locked))")
        let unlocked = try await f.tokens.apply(.unlock, toSerial: token.serial, actor: "operator", at: now)
        try ensure(unlocked.state == .issued && unlocked.lockedFrom == nil, "unlocked to \(unlocked.state)")
        let verified = try await f.tokens.verify(totp.code(at: now), for: user.id, actor: "test", at: now)
        try ensure(!verified.isAccepted, "a never-activated token verified after unlock: \(verified)")
        let activated = try await f.tokens.activate(totp.code(at: now), for: user.id, actor: "test", at: now)
        try ensure(activated.isAccepted, "first code after unlock: \(activated)")
        // An active token locked by wrong codes goes back to active.
        let wrongLater = wrongCode(for: totp, near: token.parameters.step(at: now + 60))
        for _ in 1...5 { _ = try await f.tokens.verify(wrongLater, for: user.id, actor: "test", at: now + 60) }
        try ensure(try await f.repository.token(token.id)?.lockedFrom == .active, "locked from active")
        let again = try await f.tokens.apply(.unlock, toSerial: token.serial, actor: "operator", at: now + 60)
        try ensure(again.state == .active, "an active token unlocked to \(again.state)")
    }

    static func transitionCompareAndSet(_ f: ContractFixture) async throws {
        let (_, token, _) = try await f.activeCustomer("cas")
        let now = ContractFixture.start
        let event = AuditEvent(at: now, actor: "t", action: "token.revoke", subject: "t", outcome: "ok")
        try ensure(
            try await f.repository.transition(
                token.id, from: .active, to: .revoked, resetFailures: false, at: now, audit: event), "first CAS")
        try ensure(
            !(try await f.repository.transition(
                token.id, from: .active, to: .cancelled, resetFailures: false, at: now, audit: event)),
            "stale CAS succeeded")
        try ensure(try await f.repository.token(token.id)?.state == .revoked, "state not revoked")
        try await ensureThrows(.illegalTransition) {
            _ = try await f.tokens.apply(.unlock, toSerial: token.serial, actor: "t", at: now)
        }
    }

    static func sharingIsPerToken(_ f: ContractFixture) async throws {
        let (alice, bob, token, totp) = try await f.activeColleagues("alice", "bob")
        let now = ContractFixture.start
        // Never to a retail customer or another contract's user.
        let outsider = try await f.customer("outsider")
        try await ensureThrows(.tokenNotRegistrable) {
            _ = try await f.tokens.share(token.serial, with: outsider.id, actor: "admin", at: now)
        }
        _ = try await f.tokens.share(token.serial, with: bob.id, actor: "admin", at: now)
        let sharers = try await f.repository.users(holding: token.id).map(\.id)
        try ensure(Set(sharers) == [alice.id, bob.id], "sharers: \(sharers)")
        let code = totp.code(at: now)
        try ensure(try await f.tokens.verify(code, for: alice.id, actor: "t", at: now).isAccepted, "alice refused")
        let bobResult = try await f.tokens.verify(code, for: bob.id, actor: "t", at: now)
        try ensure(bobResult == .refused(.replay), "bob reused alice's code: \(bobResult)")
        try ensure(bobResult.refusalCode == .otpInvalid, "a replay must read as a wrong code")
        let next = totp.code(at: now + 60)
        try ensure(
            try await f.tokens.verify(next, for: bob.id, actor: "t", at: now + 60).isAccepted, "bob's fresh code")
    }

    static func lockStopsSharers(_ f: ContractFixture) async throws {
        let (alice, dave, token, totp) = try await f.activeColleagues("carol", "dave")
        let now = ContractFixture.start
        _ = try await f.tokens.share(token.serial, with: dave.id, actor: "admin", at: now)
        let wrong = wrongCode(for: totp, near: token.parameters.step(at: now))
        for _ in 1...5 { _ = try await f.tokens.verify(wrong, for: alice.id, actor: "t", at: now) }
        let forDave = try await f.tokens.verify(totp.code(at: now), for: dave.id, actor: "t", at: now)
        try ensure(forDave == .refused(.locked), "a sharer of a locked token was let in: \(forDave)")
    }

    static func windowAndDrift(_ f: ContractFixture) async throws {
        let (user, token, totp) = try await f.activeCustomer("drift")
        let start = ContractFixture.start
        let step = token.parameters.step(at: start)
        // Two steps ahead is outside ±1.
        let farAhead = try await f.tokens.verify(totp.code(forStep: step + 2), for: user.id, actor: "t", at: start)
        try ensure(farAhead == .refused(.invalidCode), "step+2 accepted with window 1: \(farAhead)")
        // One step ahead is inside, and teaches the token a drift of +1.
        try ensure(
            try await f.tokens.verify(totp.code(forStep: step + 1), for: user.id, actor: "t", at: start).isAccepted,
            "step+1")
        try ensure(try await f.repository.token(token.id)?.driftSteps == 1, "drift not learned")
        // Now the window is centred on +1: step+3 a step later (current+1 → +2 from the new current) is fine.
        let later = start + 60
        try ensure(
            try await f.tokens.verify(totp.code(forStep: step + 3), for: user.id, actor: "t", at: later).isAccepted,
            "centred window")
        try ensure(try await f.repository.token(token.id)?.driftSteps == 2, "drift now 2")
        // The drift never exceeds the policy's bound.
        var now = later
        var next = step + 3
        for round in 1...4 {
            now += 60
            next += 2
            let result = try await f.tokens.verify(totp.code(forStep: next), for: user.id, actor: "t", at: now)
            try ensure(result.isAccepted, "fast clock, round \(round): \(result)")
        }
        let drift = try await f.repository.token(token.id)?.driftSteps ?? 0
        try ensure(drift == f.tokens.policy.maxDriftSteps, "drift \(drift) is not held at the bound")
        // An old code (before the last accepted step) is a replay.
        let old = try await f.tokens.verify(totp.code(forStep: next - 1), for: user.id, actor: "t", at: now)
        try ensure(!old.isAccepted, "old step accepted")
    }

    /// Many verifications at once, so that stores that batch them (PostgreSQL's group commit decides a batch with its
    /// tokens locked) decide several jobs on one token in one batch: each customer's current code twice and a wrong
    /// code. Exactly one acceptance per token, the repeat a replay, the wrong code counted.
    static func batchedVerifications(_ f: ContractFixture) async throws {
        var customers: [(User, Token, TOTP)] = []
        for index in 0..<25 { customers.append(try await f.activeCustomer("batch\(index)")) }
        let now = ContractFixture.start
        let step = TOTPParameters.ichigoDefault.step(at: now)
        let auditBefore = try await f.repository.auditRecords(from: 1, limit: 100_000).count
        let tokens = f.tokens
        let results = try await withThrowingTaskGroup(of: (Int, String, VerificationResult).self) { group in
            for (index, (user, _, totp)) in customers.enumerated() {
                let right = totp.code(at: now)
                let wrong = wrongCode(for: totp, near: step)
                for (kind, code) in [("right", right), ("right", right), ("wrong", wrong)] {
                    group.addTask { (index, kind, try await tokens.verify(code, for: user.id, actor: "test", at: now)) }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for index in customers.indices {
            let mine = results.filter { $0.0 == index }
            let right = mine.filter { $0.1 == "right" }.map(\.2)
            try ensure(right.filter(\.isAccepted).count == 1, "customer \(index): one acceptance, got \(right)")
            try ensure(right.contains(.refused(.replay)), "customer \(index): the repeat is a replay, got \(right)")
            let wrong = mine.filter { $0.1 == "wrong" }.map(\.2)
            try ensure(wrong == [.refused(.invalidCode)], "customer \(index): the wrong code is counted, got \(wrong)")
            let token = try await f.repository.token(customers[index].1.id)
            try ensure(token?.lastAcceptedStep == step && token?.state == .active, "customer \(index): \(String(describing: token))")
            try ensure((0...1).contains(token?.failureCount ?? -1), "customer \(index): failures \(token?.failureCount ?? -1)")
        }
        let records = try await f.repository.auditRecords(from: 1, limit: 100_000)
        try ensure(records.count == auditBefore + 75, "one audit record per verification: \(records.count - auditBefore)")
        try ensure(f.chain.verify(records, after: nil).isEmpty, "the chain verifies")
    }

    static func concurrentReplay(_ f: ContractFixture) async throws {
        let (user, token, totp) = try await f.activeCustomer("race")
        let now = ContractFixture.start
        let code = totp.code(at: now)
        let service = f.tokens
        let results = try await withThrowingTaskGroup(of: VerificationResult.self) { group in
            for _ in 0..<50 { group.addTask { try await service.verify(code, for: user.id, actor: "t", at: now) } }
            var all: [VerificationResult] = []
            for try await result in group { all.append(result) }
            return all
        }
        let accepted = results.filter(\.isAccepted).count
        try ensure(accepted == 1, "\(accepted) of 50 concurrent submissions accepted")
        try ensure(
            results.allSatisfy { $0.isAccepted || $0 == .refused(.replay) }, "unexpected refusals: \(Set(results))")
        try ensure(try await f.repository.token(token.id)?.state == .active, "replays locked the token")
    }

    static func concurrentFailures(_ f: ContractFixture) async throws {
        let (user, token, totp) = try await f.activeCustomer("brute")
        let now = ContractFixture.start
        let wrong = wrongCode(for: totp, near: token.parameters.step(at: now))
        let service = f.tokens
        let results = try await withThrowingTaskGroup(of: VerificationResult.self) { group in
            for _ in 0..<30 { group.addTask { try await service.verify(wrong, for: user.id, actor: "t", at: now) } }
            var all: [VerificationResult] = []
            for try await result in group { all.append(result) }
            return all
        }
        let lockedNow = results.filter { $0 == .refused(.lockedByThisAttempt) }.count
        try ensure(lockedNow == 1, "\(lockedNow) attempts claim to have locked the token")
        try ensure(
            results.filter { $0 == .refused(.invalidCode) }.count == 3
                && results.filter { $0 == .refused(.invalidCodeLastTry) }.count == 1,
            "exactly 3 plain failures and one last-try warning before the lock")
        let stored = try await f.repository.token(token.id)
        try ensure(
            stored?.state == .locked && stored?.failureCount == 5,
            "state \(String(describing: stored?.state)), count \(String(describing: stored?.failureCount))")
    }

    static func auditChain(_ f: ContractFixture) async throws {
        let (user, _, totp) = try await f.activeCustomer("audit")
        let now = ContractFixture.start
        _ = try await f.tokens.verify(totp.code(at: now), for: user.id, actor: "t", at: now)
        _ = try await f.tokens.verify(totp.code(at: now), for: user.id, actor: "t", at: now)  // replay
        _ = try await f.tokens.verify(totp.code(at: now), for: .random(), actor: "t", at: now)  // unknown user
        let records = try await f.repository.auditRecords(from: 1, limit: 1000)
        let actions = records.map { "\($0.event.action):\($0.event.outcome):\($0.event.reason ?? "")" }
        for expected in [
            "contract.create:ok:retail", "token.enrol:ok:", "token.activate:accepted:", "otp.verify:accepted:",
            "otp.verify:refused:replay", "otp.verify:refused:unknown_user",
        ] {
            try ensure(actions.contains { $0.hasPrefix(expected) }, "audit lacks \(expected): \(actions)")
        }
        try ensure(records.map(\.sequence) == Array(1...Int64(records.count)), "sequence has gaps")
        let report = try await AuditVerifier(repository: f.repository, chain: f.chain).verify(pageSize: 3)
        try ensure(report.isIntact && report.recordCount == records.count, "chain broken: \(report.breaks)")
        // No secret in the trail.
        let code = totp.code(at: now).text
        try ensure(!records.contains { "\($0.event)".contains(code) }, "a code reached the audit trail")
    }

    static func passwordLockout(_ f: ContractFixture) async throws {
        let user = try await f.customer("pw")
        let now = ContractFixture.start
        let repository = f.repository
        let outcomes = try await withThrowingTaskGroup(of: FailureOutcome?.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await repository.recordPasswordFailure(
                        of: user.id, lockingAt: 5, at: now,
                        audit: AuditEvent(at: now, actor: "t", action: "login.password", subject: "t", outcome: "refused"),
                        lockAudit: AuditEvent(at: now, actor: "system", action: "login.lock", subject: "t", outcome: "ok"))
                }
            }
            var all: [FailureOutcome?] = []
            for try await outcome in group { all.append(outcome) }
            return all
        }
        try ensure(outcomes.filter { $0?.lockedNow == true }.count == 1, "the lock was reported \(outcomes.filter { $0?.lockedNow == true }.count) times")
        try ensure(try await f.repository.user(user.id)?.loginLocked == true, "not locked")
        try ensure(try await f.repository.unlockLogin(of: user.id, at: now, audit: AuditEvent(at: now, actor: "api", action: "login.unlock", subject: "t", outcome: "ok")), "unlock failed")
        let unlocked = try await f.repository.user(user.id)
        try ensure(unlocked?.loginLocked == false && unlocked?.passwordFailures == 0, "unlock did not reset")
        try ensure(try await f.repository.recordPasswordFailure(of: .random(), lockingAt: 5, at: now, audit: AuditEvent(at: now, actor: "t", action: "t", subject: "t", outcome: "refused"), lockAudit: AuditEvent(at: now, actor: "t", action: "t", subject: "t", outcome: "ok")) == nil, "unknown user counted")
    }

    /// A code that is not valid anywhere in `step ± 3`.
    public static func wrongCode(for totp: TOTP, near step: Int64) -> OTPCode {
        let valid = Set((step - 3...step + 3).map { totp.code(forStep: $0).text })
        var candidate = 0
        while valid.contains(String(candidate).leftPadded(to: 6)) { candidate += 1 }
        return OTPCode(String(candidate).leftPadded(to: 6))!
    }
}

extension VerificationResult {
    /// The error code a refusal reads as, or `nil` when accepted.
    public var refusalCode: IchigoError.Code? {
        if case .refused(let reason) = self { return reason.errorCode }
        return nil
    }
}

extension Array where Element == UInt8 {
    func contains(subsequence: [UInt8]) -> Bool {
        guard !subsequence.isEmpty, subsequence.count <= count else { return false }
        for start in 0...(count - subsequence.count) where Array(self[start..<start + subsequence.count]) == subsequence
        {
            return true
        }
        return false
    }
}
