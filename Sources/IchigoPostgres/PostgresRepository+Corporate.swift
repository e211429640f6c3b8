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
            .map(Account.init(stored:))
    }

    public func insert(_ account: Account, for contract: ContractID, audit: AuditEvent) async throws {
        try await write { tx in
            try await tx.run(
                """
                INSERT INTO accounts (id, user_id, name, branch, number, balance, contract_id)
                VALUES (\(account.id.rawValue), \(account.userID.rawValue), \(account.name), \(account.branch),
                    \(account.number), \(account.balance), \(contract.rawValue))
                """)
            tx.append(audit)
        }
    }

    public func insert(_ transfer: CorporateTransfer, audit: AuditEvent) async throws {
        try await write { tx in
            // A concurrent duplicate fails on `corporate_transfers_pkey`: `transferDuplicate` too.
            guard !(try await tx.exists("SELECT 1 FROM corporate_transfers WHERE id = \(transfer.id.rawValue)")) else {
                throw IchigoError(.transferDuplicate)
            }
            try await tx.run(
                """
                INSERT INTO corporate_transfers (id, contract_id, account_id, payee_bank, payee_branch, payee_account,
                    payee_name, amount, status, created_by, created_at)
                VALUES (\(transfer.id.rawValue), \(transfer.contractID.rawValue), \(transfer.accountID.rawValue), \(transfer.payee.bank),
                    \(transfer.payee.branch), \(transfer.payee.account), \(transfer.payee.name), \(transfer.amount),
                    'pending', \(transfer.createdBy.rawValue), \(transfer.createdAt.millis))
                """)
            tx.append(audit)
        }
    }


    public func corporateTransfer(_ id: TransferID) async throws -> CorporateTransfer? {
        try await row("SELECT * FROM corporate_transfers WHERE id = \(id.rawValue)").map(CorporateTransfer.init(stored:))
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
        ).map(CorporateTransfer.init(stored:))
    }

    public func approve(_ id: TransferID, by user: UserID, at now: Date, audit: AuditEvent) async throws -> ApprovalOutcome
    {
        try await write { tx in
            // The transfer's row stays locked until the commit: a concurrent approval waits, then finds it no
            // longer pending.
            guard
                let row = try await tx.row(
                    "SELECT * FROM corporate_transfers WHERE id = \(id.rawValue) AND status = 'pending' FOR UPDATE")
            else { return .notPending }
            let transfer = try CorporateTransfer(stored: row)
            let debited = try await tx.changes(
                """
                UPDATE accounts SET balance = balance - \(transfer.amount)
                WHERE id = \(transfer.accountID.rawValue) AND contract_id = \(transfer.contractID.rawValue)
                    AND balance >= \(transfer.amount)
                RETURNING 1
                """)
            guard debited == 1 else { return .insufficientFunds }
            let approved = try await tx.changes(
                """
                UPDATE corporate_transfers SET status = 'approved', approved_by = \(user.rawValue),
                    approved_at = \(now.millis)
                WHERE id = \(id.rawValue) AND status = 'pending'
                RETURNING 1
                """)
            guard approved == 1 else { throw IchigoError(.concurrentUpdate) }
            if transfer.payee.bank == Transfer.ownBankCode {
                try await tx.run(
                    """
                    UPDATE accounts SET balance = balance + \(transfer.amount)
                    WHERE branch = \(transfer.payee.branch) AND number = \(transfer.payee.account)
                        AND id <> \(transfer.accountID.rawValue)
                    """)
            }
            tx.append(audit)
            return .approved
        }
    }

    public func tokens(ofContract contract: ContractID) async throws -> [Token] {
        try await rows("SELECT * FROM tokens WHERE contract_id = \(contract.rawValue) ORDER BY serial")
            .map { try Token(stored: $0) }
    }
}
