import Foundation
import Ichigo
import PostgresNIO

extension PostgresRepository: CorporateRepository {
    public func changeUsageMode(
        of contract: ContractID, to mode: TokenUsageMode, at now: Date, audit: AuditEvent
    ) async throws -> [UserID] {
        try await write { tx in
            let changed = try await tx.changes(
                """
                UPDATE contracts SET usage_mode = \(mode.rawValue) WHERE id = \(contract.rawValue) AND kind = 'corporate'
                RETURNING 1
                """)
            guard changed == 1 else { throw IchigoError(.contractNotFound) }
            // The contract row stays locked until the commit: another mode change or registration waits.
            let released = try await tx.rows(
                """
                UPDATE users SET token_id = NULL WHERE contract_id = \(contract.rawValue) AND token_id IS NOT NULL
                RETURNING id, login_id
                """
            ).map { row in
                let c = Columns(row)
                return (id: try c["id"] as String, loginID: try c["login_id"] as String)
            }
            .sorted { $0.loginID.utf8.lexicographicallyPrecedes($1.loginID.utf8) }
            var event = audit
            event.reason = [audit.reason, "released=\(released.count)"].compactMap { $0 }.joined(separator: " ")
            tx.append(event)
            return released.map { UserID(rawValue: $0.id) }
        }
    }

    public func register(
        _ token: TokenID, to contract: ContractID, for users: [UserID], at now: Date, audit: [AuditEvent],
        mails: [OutgoingMail]
    ) async throws {
        try await write { tx in
            // Checked again inside the transaction, with the token's row locked: it may have moved since the
            // caller read it.
            guard
                let row = try await tx.row(
                    "SELECT kind, state, contract_id FROM tokens WHERE id = \(token.rawValue) FOR UPDATE")
            else { throw IchigoError(.tokenNotRegistrable) }
            let c = Columns(row)
            let state: String = try c["state"]
            let owner: String? = try c["contract_id"]
            let kind: String = try c["kind"]
            // An inventory token has no contract; its first code (just verified by the caller) made it active.
            let inventory = owner == nil && kind == TokenKind.hardware.rawValue
            guard state == TokenState.issued.rawValue || state == TokenState.active.rawValue,
                inventory || owner == contract.rawValue
            else { throw IchigoError(.tokenNotRegistrable) }
            try await tx.run(
                """
                UPDATE tokens SET contract_id = \(contract.rawValue), updated_at = \(now.millis)
                WHERE id = \(token.rawValue)
                """)
            for user in users {
                let changed = try await tx.changes(
                    """
                    UPDATE users SET token_id = \(token.rawValue)
                    WHERE id = \(user.rawValue) AND contract_id = \(contract.rawValue)
                    RETURNING 1
                    """)
                guard changed == 1 else { throw IchigoError(.userNotFound) }
            }
            for event in audit { tx.append(event) }
            for mail in mails { try await tx.enqueue(mail) }
        }
    }

    public func deregister(_ users: [UserID], at now: Date, audit: [AuditEvent]) async throws {
        try await write { tx in
            for user in users {
                try await tx.run("UPDATE users SET token_id = NULL WHERE id = \(user.rawValue)")
            }
            for event in audit { tx.append(event) }
        }
    }

    public func setPermissions(_ permissions: Permissions, of user: UserID, audit: AuditEvent) async throws {
        let text = try encodePermissions(permissions)
        try await write { tx in
            let changed = try await tx.changes(
                "UPDATE users SET permissions = \(text) WHERE id = \(user.rawValue) RETURNING 1")
            guard changed == 1 else { throw IchigoError(.userNotFound) }
            tx.append(audit)
        }
    }

    public func accounts(ofContract contract: ContractID) async throws -> [Account] {
        try await rows("SELECT * FROM accounts WHERE contract_id = \(contract.rawValue) ORDER BY branch, number")
            .map(Self.account(from:))
    }

    public func insert(_ account: Account, for contract: ContractID, audit: AuditEvent) async throws {
        try await write { tx in
            try await tx.run(
                """
                INSERT INTO accounts (id, user_id, name, branch, number, balance, contract_id)
                VALUES (\(account.id), \(account.userID.rawValue), \(account.name), \(account.branch),
                    \(account.number), \(account.balance), \(contract.rawValue))
                """)
            tx.append(audit)
        }
    }

    public func insert(_ transfer: CorporateTransfer, audit: AuditEvent) async throws {
        try await write { tx in
            // A concurrent duplicate fails on `corporate_transfers_pkey`: `transferDuplicate` too.
            guard !(try await tx.exists("SELECT 1 FROM corporate_transfers WHERE id = \(transfer.id)")) else {
                throw IchigoError(.transferDuplicate)
            }
            try await tx.run(
                """
                INSERT INTO corporate_transfers (id, contract_id, account_id, payee_bank, payee_branch, payee_account,
                    payee_name, amount, status, created_by, created_at)
                VALUES (\(transfer.id), \(transfer.contractID.rawValue), \(transfer.accountID), \(transfer.payeeBank),
                    \(transfer.payeeBranch), \(transfer.payeeAccount), \(transfer.payeeName), \(transfer.amount),
                    'pending', \(transfer.createdBy.rawValue), \(transfer.createdAt.millis))
                """)
            tx.append(audit)
        }
    }

    static func corporateTransfer(from row: PostgresRandomAccessRow) throws -> CorporateTransfer {
        let c = Columns(row)
        guard let status = CorporateTransferStatus(rawValue: try c["status"]) else {
            throw IchigoError(.corruptData, detail: "corporate transfer row")
        }
        return CorporateTransfer(
            id: try c["id"], contractID: ContractID(rawValue: try c["contract_id"]), accountID: try c["account_id"],
            payeeBank: try c["payee_bank"], payeeBranch: try c["payee_branch"], payeeAccount: try c["payee_account"],
            payeeName: try c["payee_name"], amount: try c["amount"], status: status,
            createdBy: UserID(rawValue: try c["created_by"]), createdAt: Date(millis: try c["created_at"]),
            approvedBy: (try c["approved_by"] as String?).map(UserID.init(rawValue:)),
            approvedAt: (try c["approved_at"] as Int64?).map(Date.init(millis:)))
    }

    public func corporateTransfer(_ id: String) async throws -> CorporateTransfer? {
        try await row("SELECT * FROM corporate_transfers WHERE id = \(id)").map(Self.corporateTransfer(from:))
    }

    public func corporateTransfers(of contract: ContractID, status: CorporateTransferStatus?, limit: Int) async throws
        -> [CorporateTransfer]
    {
        try await rows(
            """
            SELECT * FROM corporate_transfers
            WHERE contract_id = \(contract.rawValue) AND (\(status?.rawValue)::text IS NULL OR status = \(status?.rawValue))
            ORDER BY created_at DESC, id LIMIT \(limit)
            """
        ).map(Self.corporateTransfer(from:))
    }

    public func approve(_ id: String, by user: UserID, at now: Date, audit: AuditEvent) async throws -> ApprovalOutcome
    {
        try await write { tx in
            // The transfer's row stays locked until the commit: a concurrent approval waits, then finds it no
            // longer pending.
            guard
                let row = try await tx.row(
                    "SELECT * FROM corporate_transfers WHERE id = \(id) AND status = 'pending' FOR UPDATE")
            else { return .notPending }
            let transfer = try Self.corporateTransfer(from: row)
            let debited = try await tx.changes(
                """
                UPDATE accounts SET balance = balance - \(transfer.amount)
                WHERE id = \(transfer.accountID) AND contract_id = \(transfer.contractID.rawValue)
                    AND balance >= \(transfer.amount)
                RETURNING 1
                """)
            guard debited == 1 else { return .insufficientFunds }
            let approved = try await tx.changes(
                """
                UPDATE corporate_transfers SET status = 'approved', approved_by = \(user.rawValue),
                    approved_at = \(now.millis)
                WHERE id = \(id) AND status = 'pending'
                RETURNING 1
                """)
            guard approved == 1 else { throw IchigoError(.concurrentUpdate) }
            if transfer.payeeBank == Transfer.ownBankCode {
                try await tx.run(
                    """
                    UPDATE accounts SET balance = balance + \(transfer.amount)
                    WHERE branch = \(transfer.payeeBranch) AND number = \(transfer.payeeAccount)
                        AND id <> \(transfer.accountID)
                    """)
            }
            tx.append(audit)
            return .approved
        }
    }

    public func tokens(ofContract contract: ContractID) async throws -> [Token] {
        try await rows("SELECT * FROM tokens WHERE contract_id = \(contract.rawValue) ORDER BY serial")
            .map { try Self.token(from: $0) }
    }
}

extension PostgresRepository: OperatorRepository {
    public func insert(_ bankOperator: BankOperator, audit: AuditEvent) async throws {
        try await write { tx in
            // A concurrent insert of the same login ID fails on `operators_login_id_unique`: `loginIDTaken` too.
            guard
                !(try await tx.exists("SELECT 1 FROM operators WHERE login_id = \(bankOperator.loginID.rawValue)"))
            else { throw IchigoError(.loginIDTaken) }
            try await tx.run(
                """
                INSERT INTO operators (id, login_id, name, password_hash, created_at)
                VALUES (\(bankOperator.id.rawValue), \(bankOperator.loginID.rawValue), \(bankOperator.name),
                    \(bankOperator.passwordHash.encoded), \(bankOperator.createdAt.millis))
                """)
            tx.append(audit)
        }
    }

    static func bankOperator(from row: PostgresRandomAccessRow) throws -> BankOperator {
        let c = Columns(row)
        guard let loginID = LoginID(rawValue: try c["login_id"]) else {
            throw IchigoError(.corruptData, detail: "operator row")
        }
        var result = BankOperator(
            id: OperatorID(rawValue: try c["id"]), loginID: loginID, name: try c["name"],
            passwordHash: PasswordHash(encoded: try c["password_hash"]), createdAt: Date(millis: try c["created_at"]))
        result.passwordFailures = try c["password_failures"]
        result.locked = (try c["locked_at"] as Int64?) != nil
        return result
    }

    public func bankOperator(loginID: LoginID) async throws -> BankOperator? {
        try await row("SELECT * FROM operators WHERE login_id = \(loginID.rawValue)").map(Self.bankOperator(from:))
    }

    public func bankOperator(_ id: OperatorID) async throws -> BankOperator? {
        try await row("SELECT * FROM operators WHERE id = \(id.rawValue)").map(Self.bankOperator(from:))
    }

    public func recordOperatorPasswordFailure(
        _ id: OperatorID, lockingAt threshold: Int, audit: AuditEvent
    ) async throws -> FailureOutcome? {
        try await write { tx in
            guard
                let row = try await tx.row(
                    """
                    UPDATE operators SET password_failures = password_failures + 1,
                        locked_at = CASE WHEN locked_at IS NULL AND password_failures + 1 >= \(threshold)
                                         THEN \(audit.at.millis) ELSE locked_at END
                    WHERE id = \(id.rawValue) AND locked_at IS NULL
                    RETURNING password_failures, locked_at
                    """)
            else { return nil }
            let c = Columns(row)
            let count: Int = try c["password_failures"]
            tx.append(audit)
            let lockedNow = (try c["locked_at"] as Int64?) != nil
            if lockedNow {
                tx.append(
                    AuditEvent(
                        at: audit.at, actor: "system", action: "operator.lock", subject: id.rawValue, outcome: "ok",
                        reason: "\(threshold) consecutive wrong passwords"))
            }
            return FailureOutcome(failureCount: count, lockedNow: lockedNow)
        }
    }

    public func resetOperatorPasswordFailures(_ id: OperatorID) async throws {
        try await write { tx in
            try await tx.run(
                "UPDATE operators SET password_failures = 0 WHERE id = \(id.rawValue) AND locked_at IS NULL")
        }
    }

    public func unlockOperator(_ id: OperatorID, newPasswordHash: PasswordHash?, audit: AuditEvent) async throws {
        try await write { tx in
            let changed = try await tx.changes(
                """
                UPDATE operators SET password_failures = 0, locked_at = NULL,
                    password_hash = COALESCE(\(newPasswordHash?.encoded), password_hash)
                WHERE id = \(id.rawValue)
                RETURNING 1
                """)
            guard changed == 1 else { throw IchigoError(.userNotFound) }
            tx.append(audit)
        }
    }

    public func importTokens(_ tokens: [Token], audit: [AuditEvent]) async throws {
        try await write { tx in
            // One look for every serial of the batch; the first one stored already (or repeated) is named.
            var stored = Set<String>()
            for row in try await tx.rows(
                "SELECT serial FROM tokens WHERE serial = ANY(\(tokens.map(\.serial.rawValue)))")
            {
                stored.insert(try Columns(row)["serial"])
            }
            var seen = Set<String>()
            for (index, token) in tokens.enumerated() {
                let serial = token.serial.rawValue
                guard !stored.contains(serial), seen.insert(serial).inserted else {
                    throw IchigoError(
                        .importFailed,
                        detail: "key package \(index + 1): serial \(serial) is "
                            + (stored.contains(serial) ? "already in the database" : "repeated in the file"))
                }
            }
            do {
                try await Self.insertTokens(tokens, in: tx)
            } catch let error as PSQLError {
                // Another import stored one of these serials meanwhile.
                guard let mapped = PostgresStoreError.mapping(error) as? IchigoError, mapped.code == .serialTaken
                else { throw error }
                throw IchigoError(.importFailed, detail: "a serial of this file was stored by another import meanwhile")
            }
            for event in audit { tx.append(event) }
        }
    }

    public func tokens(matching filter: TokenFilter, limit: Int, offset: Int) async throws -> [Token] {
        let prefix = filter.serialPrefix.flatMap { $0.isEmpty ? nil : $0.uppercased() }
        return try await rows(
            """
            SELECT * FROM tokens
            WHERE (\(prefix)::text IS NULL OR (serial >= \(prefix) AND serial < \(prefix.map { $0 + "\u{FFFF}" })))
                AND (\(filter.kind?.rawValue)::text IS NULL OR kind = \(filter.kind?.rawValue))
                AND (\(filter.state?.rawValue)::text IS NULL OR state = \(filter.state?.rawValue))
                AND (NOT \(filter.unassignedOnly) OR contract_id IS NULL)
            ORDER BY serial LIMIT \(limit) OFFSET \(offset)
            """
        ).map { try Self.token(from: $0) }
    }

    public func tokenCounts() async throws -> [TokenKind: [TokenState: Int]] {
        var result: [TokenKind: [TokenState: Int]] = [:]
        for row in try await rows("SELECT kind, state, COUNT(*) AS n FROM tokens GROUP BY kind, state") {
            let c = Columns(row)
            guard let kind = TokenKind(rawValue: try c["kind"]), let state = TokenState(rawValue: try c["state"]) else {
                continue
            }
            result[kind, default: [:]][state] = try c["n"]
        }
        return result
    }

    public func returnToInventory(_ token: TokenID, at now: Date, audit: AuditEvent) async throws -> Bool {
        try await write { tx in
            let changed = try await tx.changes(
                """
                UPDATE tokens SET state = 'issued', contract_id = NULL, failure_count = 0, locked_from = NULL,
                    updated_at = \(now.millis)
                WHERE id = \(token.rawValue) AND kind = 'hardware' AND state IN ('issued', 'active', 'locked')
                RETURNING 1
                """)
            guard changed == 1 else { return false }
            try await tx.run("UPDATE users SET token_id = NULL WHERE token_id = \(token.rawValue)")
            tx.append(audit)
            return true
        }
    }

    public func users(loginIDPrefix prefix: String, limit: Int) async throws -> [User] {
        try await rows(
            """
            SELECT * FROM users WHERE login_id >= \(prefix) AND login_id < \(prefix + "\u{FFFF}")
            ORDER BY login_id LIMIT \(limit)
            """
        ).map(Self.user(from:))
    }

    public func auditRecords(matching filter: AuditFilter, limit: Int) async throws -> [AuditRecord] {
        let party = filter.party.flatMap { $0.isEmpty ? nil : $0 }
        let action = filter.action.flatMap { $0.isEmpty ? nil : $0 }
        return try await rows(
            """
            SELECT * FROM audit_log
            WHERE (\(party)::text IS NULL OR subject = \(party) OR actor = \(party) OR actor = \(party.map { "user:" + $0 })
                    OR reason LIKE \(party.map { "%user=\($0)%" }))
                AND (\(action)::text IS NULL OR action = \(action))
                AND (\(filter.from?.millis)::bigint IS NULL OR at >= \(filter.from?.millis))
                AND (\(filter.until?.millis)::bigint IS NULL OR at < \(filter.until?.millis))
            ORDER BY seq DESC LIMIT \(limit)
            """
        ).map(Self.auditRecord(from:))
    }
}

extension PostgresRepository: APIKeyRepository {
    public func insert(_ key: APIKey, audit: AuditEvent) async throws {
        try await write { tx in
            // A concurrent insert fails on `api_keys_pkey` or `api_keys_secret_hash_unique`: `apiKeyNameTaken` too.
            guard
                !(try await tx.exists(
                    "SELECT 1 FROM api_keys WHERE name = \(key.name) OR secret_hash = \(key.secretHash)"))
            else { throw IchigoError(.apiKeyNameTaken) }
            try await tx.run(
                """
                INSERT INTO api_keys (name, secret_hash, scopes, created_at)
                VALUES (\(key.name), \(key.secretHash), \(Self.scopesText(key.scopes)), \(key.createdAt.millis))
                """)
            tx.append(audit)
        }
    }

    public func apiKey(secretHash: String) async throws -> APIKey? {
        try await row("SELECT * FROM api_keys WHERE secret_hash = \(secretHash)").map(Self.apiKey(from:))
    }

    public func apiKeys() async throws -> [APIKey] {
        try await rows("SELECT * FROM api_keys ORDER BY name").map(Self.apiKey(from:))
    }

    public func revokeAPIKey(name: String, at now: Date, audit: AuditEvent) async throws -> Bool {
        try await write { tx in
            let changed = try await tx.changes(
                """
                UPDATE api_keys SET revoked_at = \(now.millis) WHERE name = \(name) AND revoked_at IS NULL
                RETURNING 1
                """)
            guard changed == 1 else { return false }
            tx.append(audit)
            return true
        }
    }

    static func scopesText(_ scopes: Set<APIScope>) -> String { scopes.sorted().map(\.rawValue).joined(separator: " ") }

    static func apiKey(from row: PostgresRandomAccessRow) throws -> APIKey {
        let c = Columns(row)
        var scopes = Set<APIScope>()
        for word in (try c["scopes"] as String).split(separator: " ") {
            guard let scope = APIScope(rawValue: String(word)) else {
                throw IchigoError(.corruptData, detail: "api key scope \(word)")
            }
            scopes.insert(scope)
        }
        return APIKey(
            name: try c["name"], secretHash: try c["secret_hash"], scopes: scopes,
            createdAt: Date(millis: try c["created_at"]),
            revokedAt: (try c["revoked_at"] as Int64?).map(Date.init(millis:)))
    }
}
