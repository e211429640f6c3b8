import Foundation
import GRDB
import Ichigo

extension SQLiteRepository: CorporateRepository {
    public func changeUsageMode(
        of contract: ContractID, to mode: TokenUsageMode, at now: Date, audit: AuditEvent
    ) async throws -> [UserID] {
        try await write { db in
            try db.execute(
                sql: "UPDATE contracts SET usage_mode = ? WHERE id = ? AND kind = 'corporate'",
                arguments: [mode.rawValue, contract.rawValue])
            guard db.changesCount == 1 else { throw IchigoError(.contractNotFound) }
            let released = try String.fetchAll(
                db, sql: "SELECT id FROM users WHERE contract_id = ? AND token_id IS NOT NULL ORDER BY login_id",
                arguments: [contract.rawValue])
            try db.execute(
                sql: "UPDATE users SET token_id = NULL WHERE contract_id = ?", arguments: [contract.rawValue])
            var event = audit
            event.reason = [audit.reason, "released=\(released.count)"].compactMap { $0 }.joined(separator: " ")
            try self.appendAudit(event, in: db)
            return released.map(UserID.init(rawValue:))
        }
    }

    public func register(
        _ token: TokenID, to contract: ContractID, for users: [UserID], at now: Date, audit: [AuditEvent],
        mails: [OutgoingMail]
    ) async throws {
        try await write { db in
            // Checked again inside the transaction: the token may have moved since the caller read it.
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT kind, state, contract_id FROM tokens WHERE id = ?", arguments: [token.rawValue])
            else { throw IchigoError(.tokenNotRegistrable) }
            let state: String = row["state"]
            let owner: String? = row["contract_id"]
            let kind: String = row["kind"]
            // An inventory token has no contract; its first code (just verified by the caller) made it active.
            let inventory = owner == nil && kind == TokenKind.hardware.rawValue
            guard state == TokenState.issued.rawValue || state == TokenState.active.rawValue,
                inventory || owner == contract.rawValue
            else { throw IchigoError(.tokenNotRegistrable) }
            try db.execute(
                sql: "UPDATE tokens SET contract_id = ?, updated_at = ? WHERE id = ?",
                arguments: [contract.rawValue, now.millis, token.rawValue])
            for user in users {
                try db.execute(
                    sql: "UPDATE users SET token_id = ? WHERE id = ? AND contract_id = ?",
                    arguments: [token.rawValue, user.rawValue, contract.rawValue])
                guard db.changesCount == 1 else { throw IchigoError(.userNotFound) }
            }
            for event in audit { try self.appendAudit(event, in: db) }
            for mail in mails { try Self.enqueue(mail, in: db) }
        }
    }

    public func deregister(_ users: [UserID], at now: Date, audit: [AuditEvent]) async throws {
        try await write { db in
            for user in users {
                try db.execute(sql: "UPDATE users SET token_id = NULL WHERE id = ?", arguments: [user.rawValue])
            }
            for event in audit { try self.appendAudit(event, in: db) }
        }
    }

    public func setPermissions(_ permissions: Permissions, of user: UserID, audit: AuditEvent) async throws {
        let text = try encodePermissions(permissions)
        try await write { db in
            try db.execute(sql: "UPDATE users SET permissions = ? WHERE id = ?", arguments: [text, user.rawValue])
            guard db.changesCount == 1 else { throw IchigoError(.userNotFound) }
            try self.appendAudit(audit, in: db)
        }
    }

    public func accounts(ofContract contract: ContractID) async throws -> [Account] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM accounts WHERE contract_id = ? ORDER BY branch, number",
                arguments: [contract.rawValue]
            ).map(Account.init(stored:))
        }
    }

    public func insert(_ account: Account, for contract: ContractID, audit: AuditEvent) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO accounts (id, user_id, name, branch, number, balance, contract_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    account.id.rawValue, account.userID.rawValue, account.name, account.branch, account.number, account.balance,
                    contract.rawValue,
                ])
            try self.appendAudit(audit, in: db)
        }
    }

    public func insert(_ transfer: CorporateTransfer, audit: AuditEvent) async throws {
        try await write { db in
            guard
                try Bool.fetchOne(db, sql: "SELECT 1 FROM corporate_transfers WHERE id = ?", arguments: [transfer.id.rawValue])
                    == nil
            else { throw IchigoError(.transferDuplicate) }
            try db.execute(
                sql: """
                    INSERT INTO corporate_transfers (id, contract_id, account_id, payee_bank, payee_branch, payee_account,
                        payee_name, amount, status, created_by, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)
                    """,
                arguments: [
                    transfer.id.rawValue, transfer.contractID.rawValue, transfer.accountID.rawValue, transfer.payee.bank,
                    transfer.payee.branch, transfer.payee.account, transfer.payee.name, transfer.amount,
                    transfer.createdBy.rawValue, transfer.createdAt.millis,
                ])
            try self.appendAudit(audit, in: db)
        }
    }


    public func corporateTransfer(_ id: TransferID) async throws -> CorporateTransfer? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM corporate_transfers WHERE id = ?", arguments: [id.rawValue])
                .map(CorporateTransfer.init(stored:))
        }
    }

    public func corporateTransfers(of contract: ContractID, status: CorporateTransferStatus?, limit: Int) async throws
        -> [CorporateTransfer]
    {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM corporate_transfers WHERE contract_id = ? AND (? IS NULL OR status = ?)
                    ORDER BY created_at DESC, id LIMIT ?
                    """,
                arguments: [contract.rawValue, status?.rawValue, status?.rawValue, limit]
            ).map(CorporateTransfer.init(stored:))
        }
    }

    public func approve(_ id: TransferID, by user: UserID, at now: Date, audit: AuditEvent) async throws -> ApprovalOutcome {
        try await write { db in
            // One writer at a time: the status read, the debit and the status change cannot interleave with another.
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT * FROM corporate_transfers WHERE id = ? AND status = 'pending'", arguments: [id.rawValue])
            else { return .notPending }
            let transfer = try CorporateTransfer(stored: row)
            try db.execute(
                sql: "UPDATE accounts SET balance = balance - ? WHERE id = ? AND contract_id = ? AND balance >= ?",
                arguments: [transfer.amount, transfer.accountID.rawValue, transfer.contractID.rawValue, transfer.amount])
            guard db.changesCount == 1 else { return .insufficientFunds }
            try db.execute(
                sql: """
                    UPDATE corporate_transfers SET status = 'approved', approved_by = ?, approved_at = ?
                    WHERE id = ? AND status = 'pending'
                    """,
                arguments: [user.rawValue, now.millis, id.rawValue])
            guard db.changesCount == 1 else { throw IchigoError(.concurrentUpdate) }
            if transfer.payee.bank == Transfer.ownBankCode {
                try db.execute(
                    sql: "UPDATE accounts SET balance = balance + ? WHERE branch = ? AND number = ? AND id <> ?",
                    arguments: [transfer.amount, transfer.payee.branch, transfer.payee.account, transfer.accountID.rawValue])
            }
            try self.appendAudit(audit, in: db)
            return .approved
        }
    }

    public func tokens(ofContract contract: ContractID) async throws -> [Token] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM tokens WHERE contract_id = ? ORDER BY serial", arguments: [contract.rawValue]
            ).map(Token.init(stored:))
        }
    }
}
