import Foundation
import Ichigo

extension MemoryRepository {
    func queue(_ mail: OutgoingMail) {
        var stored = mail
        stored.id = nextMailID
        nextMailID += 1
        outbox.append(OutboxEntry(mail: stored, nextAttemptAt: mail.createdAt))
    }

    /// Credits an account of this bank named by branch and number (not `source`), as a transfer's payee.
    func creditPayee(bank: String, branch: String, number: String, amount: Int64, except source: AccountID) {
        guard bank == Transfer.ownBankCode else { return }
        for index in accountList.indices
        where accountList[index].account.branch == branch && accountList[index].account.number == number
            && accountList[index].account.id != source
        {
            accountList[index].account.balance += amount
        }
    }
}

extension MemoryRepository: RetailRepository {
    // MARK: Issuance applications

    public func insert(_ application: IssuanceApplication, mail: OutgoingMail, audit event: AuditEvent) async throws {
        for (id, older) in applications where older.userID == application.userID && older.status == .pending {
            applications[id]?.status = .cancelled
        }
        applications[application.id] = application
        queue(mail)
        appendAudit(event)
    }

    public func application(_ id: ApplicationID) async throws -> IssuanceApplication? { applications[id] }

    public func revise(
        _ id: ApplicationID, phoneEmail: String, activationPasswordHash: PasswordHash, at now: Date,
        audit event: AuditEvent
    ) async throws -> Bool {
        guard applications[id]?.status == .pending else { return false }
        applications[id]?.phoneEmail = phoneEmail
        applications[id]?.activationPasswordHash = activationPasswordHash
        appendAudit(event)
        return true
    }

    public func recordMailPasswordFailure(
        _ id: ApplicationID, maxAttempts: Int, at now: Date, audit event: AuditEvent
    ) async throws -> Int? {
        guard var stored = applications[id], stored.status == .pending else { return nil }
        stored.mailPasswordAttempts += 1
        if stored.mailPasswordAttempts >= maxAttempts { stored.status = .void }
        applications[id] = stored
        appendAudit(event)
        return stored.mailPasswordAttempts
    }

    public func complete(
        _ id: ApplicationID, token: Token, provisioning: Provisioning, mail: OutgoingMail, at now: Date,
        audit events: [AuditEvent]
    ) async throws -> Bool {
        guard let application = applications[id], application.status == .pending else { return false }
        guard !tokens.values.contains(where: { $0.serial == token.serial }) else { throw IchigoError(.serialTaken) }
        try checkUserIsFree(application.userID)
        applications[id]?.status = .completed
        tokens[token.id] = token
        usersByID[application.userID]?.tokenID = token.id
        provisionings[token.id] = provisioning
        queue(mail)
        for event in events { appendAudit(event) }
        return true
    }

    public func close(_ id: ApplicationID, as status: ApplicationStatus, at now: Date, audit event: AuditEvent)
        async throws -> Bool
    {
        guard applications[id]?.status == .pending else { return false }
        applications[id]?.status = status
        appendAudit(event)
        return true
    }

    // MARK: Provisioning

    public func provisioning(appUserID: String) async throws -> Provisioning? {
        provisionings.values.first { $0.appUserID == appUserID }
    }

    public func provisioning(token: TokenID) async throws -> Provisioning? { provisionings[token] }

    public func recordActivationFailure(
        token: TokenID, maxAttempts: Int, at now: Date, audit event: AuditEvent
    ) async throws -> (attempts: Int, voided: Bool)? {
        guard var stored = provisionings[token], stored.provisionedAt == nil,
            tokens[token]?.state == .awaitingAppSetup
        else { return nil }
        stored.attempts += 1
        provisionings[token] = stored
        appendAudit(event)
        let voided = stored.attempts >= maxAttempts
        if voided {
            tokens[token]?.state = .cancelled
            tokens[token]?.updatedAt = now
            var cancel = event
            cancel.action = "token.cancel"
            cancel.outcome = "ok"
            cancel.reason = "\(maxAttempts) wrong activation passwords: issuance void"
            appendAudit(cancel)
        }
        return (stored.attempts, voided)
    }

    public func completeProvisioning(token: TokenID, serial: SerialNumber, at now: Date, audit event: AuditEvent)
        async throws -> Bool
    {
        guard !tokens.values.contains(where: { $0.serial == serial }) else { throw IchigoError(.serialTaken) }
        guard provisionings[token]?.provisionedAt == nil, provisionings[token] != nil else { return false }
        guard tokens[token]?.state == .awaitingAppSetup else { throw IchigoError(.concurrentUpdate) }
        provisionings[token]?.provisionedAt = now
        tokens[token]?.state = .issued
        tokens[token]?.serial = serial
        tokens[token]?.updatedAt = now
        appendAudit(event)
        return true
    }

    public func expireProvisioning(token: TokenID, at now: Date, audit event: AuditEvent) async throws -> Bool {
        guard tokens[token]?.state == .awaitingAppSetup else { return false }
        tokens[token]?.state = .cancelled
        tokens[token]?.updatedAt = now
        appendAudit(event)
        return true
    }

    // MARK: Use

    public func enqueue(_ mail: OutgoingMail) async throws { queue(mail) }

    public func cancelUse(
        of token: TokenID, from state: TokenState, by user: UserID, at now: Date, audit event: AuditEvent
    ) async throws -> Bool {
        guard tokens[token]?.state == state else { return false }
        tokens[token]?.state = .cancelled
        tokens[token]?.updatedAt = now
        if usersByID[user] != nil { otpCancelled[user] = now }
        appendAudit(event)
        return true
    }

    public func otpCancelledAt(of user: UserID) async throws -> Date? { otpCancelled[user] }

    // MARK: Accounts and transfers

    public func insert(_ account: Account, audit event: AuditEvent) async throws {
        guard !accountList.contains(where: { $0.account.id == account.id }) else {
            throw IchigoError(.invalidInput, field: "account", detail: "account ID exists")
        }
        guard !accountList.contains(where: { $0.account.branch == account.branch && $0.account.number == account.number })
        else { throw IchigoError(.accountNumberTaken, field: "number") }
        accountList.append((account, usersByID[account.userID]?.contractID))
        appendAudit(event)
    }

    public func accounts(of user: UserID) async throws -> [Account] {
        accountList.map(\.account).filter { $0.userID == user }.sorted { $0.number < $1.number }
    }

    public func execute(_ transfer: Transfer, by user: UserID, audit event: AuditEvent) async throws -> Bool {
        guard !transferList.contains(where: { $0.id == transfer.id }) else { throw IchigoError(.transferDuplicate) }
        guard
            let index = accountList.firstIndex(where: {
                $0.account.id == transfer.accountID && $0.account.userID == user
            })
        else { throw IchigoError(.accountNotFound) }
        guard accountList[index].account.balance >= transfer.amount else { return false }
        accountList[index].account.balance -= transfer.amount
        creditPayee(
            bank: transfer.payee.bank, branch: transfer.payee.branch, number: transfer.payee.account,
            amount: transfer.amount, except: transfer.accountID)
        transferList.append(transfer)
        appendAudit(event)
        return true
    }

    public func transfers(of user: UserID, limit: Int) async throws -> [Transfer] {
        let own = Set(accountList.filter { $0.account.userID == user }.map(\.account.id))
        return Array(
            transferList.filter { own.contains($0.accountID) }.sorted { $0.createdAt > $1.createdAt }.prefix(limit))
    }

    // MARK: Sessions

    public func insert(_ session: WebSession) async throws {
        guard sessions[session.idHash] == nil else {
            throw IchigoError(.invalidInput, field: "session", detail: "session exists")
        }
        sessions[session.idHash] = session
    }

    public func session(idHash: String) async throws -> WebSession? { sessions[idHash] }

    public func update(_ session: WebSession) async throws {
        guard var stored = sessions[session.idHash] else { return }
        // As in the databases: the creation time is never rewritten.
        let created = stored.createdAt
        stored = session
        stored.createdAt = created
        sessions[session.idHash] = stored
    }

    public func deleteSession(idHash: String) async throws { sessions[idHash] = nil }

    public func purgeSessions(idleSince cutoff: Date) async throws {
        sessions = sessions.filter { $0.value.lastSeenAt >= cutoff }
    }

    // MARK: Outbox

    public func pendingMails(limit: Int, at now: Date) async throws -> [OutgoingMail] {
        Array(outbox.filter { $0.sentAt == nil && $0.nextAttemptAt <= now }.map(\.mail).prefix(limit))
    }

    public func markSent(_ id: Int64, at now: Date) async throws {
        guard let index = outbox.firstIndex(where: { $0.mail.id == id }) else { return }
        outbox[index].sentAt = now
        outbox[index].attempts += 1
    }

    public func markFailed(_ id: Int64, error: String, at now: Date) async throws {
        guard let index = outbox.firstIndex(where: { $0.mail.id == id }) else { return }
        // Back off as the databases do: 10 s, 20 s, 40 s, … up to an hour.
        let backoff = min(3600.0, 10.0 * Double(1 << min(outbox[index].attempts, 9)))
        outbox[index].attempts += 1
        outbox[index].lastError = String(error.prefix(500))
        outbox[index].nextAttemptAt = now + backoff
    }
}

extension MemoryRepository: CorporateRepository {
    public func changeUsageMode(
        of contract: ContractID, to mode: TokenUsageMode, at now: Date, audit event: AuditEvent
    ) async throws -> [UserID] {
        guard contracts[contract]?.kind == .corporate else { throw IchigoError(.contractNotFound) }
        contracts[contract]?.usageMode = mode
        let released = usersByID.values.filter { $0.contractID == contract && $0.tokenID != nil }
            .sorted { $0.loginID.rawValue < $1.loginID.rawValue }.map(\.id)
        for id in usersByID.keys where usersByID[id]?.contractID == contract { usersByID[id]?.tokenID = nil }
        var stored = event
        stored.reason = [event.reason, "released=\(released.count)"].compactMap { $0 }.joined(separator: " ")
        appendAudit(stored)
        return released
    }

    public func register(
        _ token: TokenID, to contract: ContractID, for users: [UserID], at now: Date, audit events: [AuditEvent],
        mails: [OutgoingMail]
    ) async throws {
        guard let stored = tokens[token] else { throw IchigoError(.tokenNotRegistrable) }
        let inventory = stored.contractID == nil && stored.kind == .hardware
        guard stored.state == .issued || stored.state == .active, inventory || stored.contractID == contract else {
            throw IchigoError(.tokenNotRegistrable)
        }
        for user in users where usersByID[user]?.contractID != contract { throw IchigoError(.userNotFound) }
        tokens[token]?.contractID = contract
        tokens[token]?.updatedAt = now
        for user in users { usersByID[user]?.tokenID = token }
        for event in events { appendAudit(event) }
        for mail in mails { queue(mail) }
    }

    public func deregister(_ users: [UserID], at now: Date, audit events: [AuditEvent]) async throws {
        for user in users { usersByID[user]?.tokenID = nil }
        for event in events { appendAudit(event) }
    }

    public func setPermissions(_ permissions: Permissions, of user: UserID, audit event: AuditEvent) async throws {
        guard usersByID[user] != nil else { throw IchigoError(.userNotFound) }
        usersByID[user]?.permissions = permissions
        appendAudit(event)
    }

    public func accounts(ofContract contract: ContractID) async throws -> [Account] {
        accountList.filter { $0.contract == contract }.map(\.account)
            .sorted { ($0.branch, $0.number) < ($1.branch, $1.number) }
    }

    public func insert(_ account: Account, for contract: ContractID, audit event: AuditEvent) async throws {
        guard !accountList.contains(where: { $0.account.id == account.id }) else {
            throw IchigoError(.invalidInput, field: "account", detail: "account ID exists")
        }
        accountList.append((account, contract))
        appendAudit(event)
    }

    public func insert(_ transfer: CorporateTransfer, audit event: AuditEvent) async throws {
        guard !corporateTransferList.contains(where: { $0.id == transfer.id }) else {
            throw IchigoError(.transferDuplicate)
        }
        var stored = transfer
        stored.status = .pending
        stored.approvedBy = nil
        stored.approvedAt = nil
        corporateTransferList.append(stored)
        appendAudit(event)
    }

    public func corporateTransfer(_ id: TransferID) async throws -> CorporateTransfer? {
        corporateTransferList.first { $0.id == id }
    }

    public func corporateTransfers(of contract: ContractID, status: CorporateTransferStatus?, limit: Int) async throws
        -> [CorporateTransfer]
    {
        Array(
            corporateTransferList.filter { $0.contractID == contract && (status == nil || $0.status == status) }
                .sorted { ($0.createdAt, $1.id.rawValue) > ($1.createdAt, $0.id.rawValue) }.prefix(limit))
    }

    public func approve(_ id: TransferID, by user: UserID, at now: Date, audit event: AuditEvent) async throws
        -> ApprovalOutcome
    {
        guard let index = corporateTransferList.firstIndex(where: { $0.id == id && $0.status == .pending }) else {
            return .notPending
        }
        let transfer = corporateTransferList[index]
        guard
            let account = accountList.firstIndex(where: {
                $0.account.id == transfer.accountID && $0.contract == transfer.contractID
                    && $0.account.balance >= transfer.amount
            })
        else { return .insufficientFunds }
        accountList[account].account.balance -= transfer.amount
        corporateTransferList[index].status = .approved
        corporateTransferList[index].approvedBy = user
        corporateTransferList[index].approvedAt = now
        creditPayee(
            bank: transfer.payee.bank, branch: transfer.payee.branch, number: transfer.payee.account,
            amount: transfer.amount, except: transfer.accountID)
        appendAudit(event)
        return .approved
    }

    public func tokens(ofContract contract: ContractID) async throws -> [Token] {
        tokens.values.filter { $0.contractID == contract }.sorted { $0.serial.rawValue < $1.serial.rawValue }
    }
}

extension MemoryRepository: OperatorRepository {
    public func insert(_ bankOperator: BankOperator, audit event: AuditEvent) async throws {
        guard !operators.values.contains(where: { $0.loginID == bankOperator.loginID }) else {
            throw IchigoError(.loginIDTaken)
        }
        operators[bankOperator.id] = bankOperator
        appendAudit(event)
    }

    public func bankOperator(loginID: LoginID) async throws -> BankOperator? {
        operators.values.first { $0.loginID == loginID }
    }

    public func bankOperator(_ id: OperatorID) async throws -> BankOperator? { operators[id] }

    public func recordOperatorPasswordFailure(
        _ id: OperatorID, lockingAt threshold: Int, audit event: AuditEvent
    ) async throws -> FailureOutcome? {
        guard var stored = operators[id], !stored.locked else { return nil }
        stored.passwordFailures += 1
        let lockedNow = stored.passwordFailures >= threshold
        stored.locked = lockedNow
        operators[id] = stored
        appendAudit(event)
        if lockedNow {
            appendAudit(
                AuditEvent(
                    at: event.at, actor: "system", action: "operator.lock", subject: id.rawValue, outcome: "ok",
                    reason: "\(threshold) consecutive wrong passwords"))
        }
        return FailureOutcome(failureCount: stored.passwordFailures, lockedNow: lockedNow)
    }

    public func resetOperatorPasswordFailures(_ id: OperatorID) async throws {
        if operators[id]?.locked == false { operators[id]?.passwordFailures = 0 }
    }

    public func unlockOperator(_ id: OperatorID, newPasswordHash: PasswordHash?, audit event: AuditEvent) async throws
    {
        guard var stored = operators[id] else { throw IchigoError(.userNotFound) }
        stored.passwordFailures = 0
        stored.locked = false
        if let newPasswordHash { stored.passwordHash = newPasswordHash }
        operators[id] = stored
        appendAudit(event)
    }

    public func importTokens(_ batch: [Token], audit events: [AuditEvent]) async throws {
        var serials = Set(tokens.values.map(\.serial))
        for (index, token) in batch.enumerated() {
            guard serials.insert(token.serial).inserted else {
                throw IchigoError(
                    .importFailed,
                    detail: "key package \(index + 1): serial \(token.serial.rawValue) is already in the database")
            }
        }
        for token in batch { tokens[token.id] = token }
        for event in events { appendAudit(event) }
    }

    public func tokens(matching filter: TokenFilter, limit: Int, offset: Int) async throws -> [Token] {
        let prefix = filter.serialPrefix?.uppercased() ?? ""
        let matching = tokens.values.filter {
            (prefix.isEmpty || $0.serial.rawValue.hasPrefix(prefix)) && (filter.kind == nil || $0.kind == filter.kind)
                && (filter.state == nil || $0.state == filter.state)
                && (!filter.unassignedOnly || $0.contractID == nil)
        }
        return Array(matching.sorted { $0.serial.rawValue < $1.serial.rawValue }.dropFirst(offset).prefix(limit))
    }

    public func tokenCounts() async throws -> [TokenKind: [TokenState: Int]] {
        var result: [TokenKind: [TokenState: Int]] = [:]
        for token in tokens.values { result[token.kind, default: [:]][token.state, default: 0] += 1 }
        return result
    }

    public func returnToInventory(_ token: TokenID, at now: Date, audit event: AuditEvent) async throws -> Bool {
        guard var stored = tokens[token], stored.kind == .hardware, [.issued, .active, .locked].contains(stored.state)
        else { return false }
        stored.state = .issued
        stored.lockedFrom = nil
        stored.contractID = nil
        stored.failureCount = 0
        stored.updatedAt = now
        tokens[token] = stored
        for id in usersByID.keys where usersByID[id]?.tokenID == token { usersByID[id]?.tokenID = nil }
        appendAudit(event)
        return true
    }

    public func users(loginIDPrefix prefix: String, limit: Int) async throws -> [User] {
        Array(
            usersByID.values.filter { $0.loginID.rawValue.hasPrefix(prefix) }
                .sorted { $0.loginID.rawValue < $1.loginID.rawValue }.prefix(limit))
    }

    public func auditRecords(matching filter: AuditFilter, limit: Int) async throws -> [AuditRecord] {
        let matching = audit.reversed().filter { record in
            let event = record.event
            if let party = filter.party, !party.isEmpty {
                let named =
                    event.subject == party || event.actor == party || event.actor == "user:" + party
                    || (event.reason?.contains("user=\(party)") ?? false)
                if !named { return false }
            }
            if let action = filter.action, !action.isEmpty, event.action != action { return false }
            if let from = filter.from, event.at < from { return false }
            if let until = filter.until, event.at >= until { return false }
            return true
        }
        return Array(matching.prefix(limit))
    }
}

extension MemoryRepository: APIKeyRepository {
    public func insert(_ key: APIKey, audit event: AuditEvent) async throws {
        guard !apiKeyList.contains(where: { $0.name == key.name || $0.secretHash == key.secretHash }) else {
            throw IchigoError(.apiKeyNameTaken)
        }
        var key = key
        key.createdAt = Date(timeIntervalSince1970: (key.createdAt.timeIntervalSince1970 * 1000).rounded() / 1000)
        apiKeyList.append(key)
        appendAudit(event)
    }

    public func apiKey(secretHash: String) async throws -> APIKey? {
        apiKeyList.first { $0.secretHash == secretHash }
    }

    public func apiKeys() async throws -> [APIKey] { apiKeyList.sorted { $0.name < $1.name } }

    public func revokeAPIKey(name: String, at now: Date, audit event: AuditEvent) async throws -> Bool {
        guard let index = apiKeyList.firstIndex(where: { $0.name == name && $0.revokedAt == nil }) else { return false }
        apiKeyList[index].revokedAt = Date(timeIntervalSince1970: (now.timeIntervalSince1970 * 1000).rounded() / 1000)
        appendAudit(event)
        return true
    }
}
