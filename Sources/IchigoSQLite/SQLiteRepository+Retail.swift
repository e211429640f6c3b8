import Foundation
import GRDB
import Ichigo

extension SQLiteRepository: RetailRepository {
    // MARK: Issuance applications

    public func insert(_ application: IssuanceApplication, mail: OutgoingMail, audit: AuditEvent) async throws {
        try await write { db in
            try db.execute(
                sql: "UPDATE issuance_applications SET status = 'cancelled', updated_at = ? WHERE user_id = ? AND status = 'pending'",
                arguments: [application.createdAt.millis, application.userID.rawValue])
            try db.execute(
                sql: """
                    INSERT INTO issuance_applications (id, user_id, phone_email, activation_password_hash,
                        mail_password_hash, mail_password_expires_at, mail_password_attempts, status, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    application.id.rawValue, application.userID.rawValue, application.phoneEmail,
                    application.activationPasswordHash.encoded, application.mailPasswordHash.encoded,
                    application.mailPasswordExpiresAt.millis, application.mailPasswordAttempts,
                    application.status.rawValue, application.createdAt.millis, application.createdAt.millis,
                ])
            try Self.enqueue(mail, in: db)
            try self.appendAudit(audit, in: db)
        }
    }

    public func application(_ id: ApplicationID) async throws -> IssuanceApplication? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM issuance_applications WHERE id = ?", arguments: [id.rawValue])
                .map(IssuanceApplication.init(stored:))
        }
    }

    public func revise(
        _ id: ApplicationID, phoneEmail: String, activationPasswordHash: PasswordHash, at now: Date, audit: AuditEvent
    ) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE issuance_applications SET phone_email = ?, activation_password_hash = ?, updated_at = ?
                    WHERE id = ? AND status = 'pending'
                    """,
                arguments: [phoneEmail, activationPasswordHash.encoded, now.millis, id.rawValue])
            guard db.changesCount == 1 else { return false }
            try self.appendAudit(audit, in: db)
            return true
        }
    }

    public func recordMailPasswordFailure(
        _ id: ApplicationID, maxAttempts: Int, at now: Date, audit: AuditEvent
    ) async throws -> Int? {
        try await write { db in
            guard let row = try Row.fetchOne(
                db,
                sql: """
                    UPDATE issuance_applications SET mail_password_attempts = mail_password_attempts + 1, updated_at = ?,
                        status = CASE WHEN mail_password_attempts + 1 >= ? THEN 'void' ELSE status END
                    WHERE id = ? AND status = 'pending'
                    RETURNING mail_password_attempts
                    """,
                arguments: [now.millis, maxAttempts, id.rawValue])
            else { return nil }
            try self.appendAudit(audit, in: db)
            return row["mail_password_attempts"]
        }
    }

    public func complete(
        _ id: ApplicationID, token: Token, provisioning: Provisioning, mail: OutgoingMail, at now: Date,
        audit: [AuditEvent]
    ) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: "UPDATE issuance_applications SET status = 'completed', updated_at = ? WHERE id = ? AND status = 'pending'",
                arguments: [now.millis, id.rawValue])
            guard db.changesCount == 1 else { return false }
            guard let user = try String.fetchOne(db, sql: "SELECT user_id FROM issuance_applications WHERE id = ?", arguments: [id.rawValue])
            else { throw IchigoError(.applicationNotFound) }
            try self.insertToken(token, assigningTo: [UserID(rawValue: user)], in: db)
            try db.execute(
                sql: """
                    INSERT INTO provisionings (token_id, service_id, app_user_id, activation_password_hash, attempts,
                        expires_at, provisioned_at)
                    VALUES (?, ?, ?, ?, ?, ?, NULL)
                    """,
                arguments: [
                    provisioning.tokenID.rawValue, provisioning.serviceID, provisioning.appUserID,
                    provisioning.activationPasswordHash.encoded, provisioning.attempts, provisioning.expiresAt.millis,
                ])
            try Self.enqueue(mail, in: db)
            for event in audit { try self.appendAudit(event, in: db) }
            return true
        }
    }

    public func close(_ id: ApplicationID, as status: ApplicationStatus, at now: Date, audit: AuditEvent) async throws
        -> Bool
    {
        try await write { db in
            try db.execute(
                sql: "UPDATE issuance_applications SET status = ?, updated_at = ? WHERE id = ? AND status = 'pending'",
                arguments: [status.rawValue, now.millis, id.rawValue])
            guard db.changesCount == 1 else { return false }
            try self.appendAudit(audit, in: db)
            return true
        }
    }

    // MARK: Provisioning


    public func provisioning(appUserID: String) async throws -> Provisioning? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM provisionings WHERE app_user_id = ?", arguments: [appUserID])
                .map(Provisioning.init(stored:))
        }
    }

    public func provisioning(token: TokenID) async throws -> Provisioning? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM provisionings WHERE token_id = ?", arguments: [token.rawValue])
                .map(Provisioning.init(stored:))
        }
    }

    public func recordActivationFailure(
        token: TokenID, maxAttempts: Int, at now: Date, audit: AuditEvent
    ) async throws -> (attempts: Int, voided: Bool)? {
        try await write { db in
            guard let row = try Row.fetchOne(
                db,
                sql: """
                    UPDATE provisionings SET attempts = attempts + 1
                    WHERE token_id = ? AND provisioned_at IS NULL
                        AND (SELECT state FROM tokens WHERE id = ?) = 'awaiting_app_setup'
                    RETURNING attempts
                    """,
                arguments: [token.rawValue, token.rawValue])
            else { return nil }
            let attempts: Int = row["attempts"]
            try self.appendAudit(audit, in: db)
            let voided = attempts >= maxAttempts
            if voided {
                try db.execute(
                    sql: "UPDATE tokens SET state = 'cancelled', updated_at = ? WHERE id = ? AND state = 'awaiting_app_setup'",
                    arguments: [now.millis, token.rawValue])
                var event = audit
                event.action = "token.cancel"
                event.outcome = "ok"
                event.reason = "\(maxAttempts) wrong activation passwords: issuance void"
                try self.appendAudit(event, in: db)
            }
            return (attempts, voided)
        }
    }

    public func completeProvisioning(token: TokenID, serial: SerialNumber, at now: Date, audit: AuditEvent) async throws
        -> Bool
    {
        try await write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM tokens WHERE serial = ?", arguments: [serial.rawValue]) == nil
            else { throw IchigoError(.serialTaken) }
            try db.execute(
                sql: "UPDATE provisionings SET provisioned_at = ? WHERE token_id = ? AND provisioned_at IS NULL",
                arguments: [now.millis, token.rawValue])
            guard db.changesCount == 1 else { return false }
            try db.execute(
                sql: "UPDATE tokens SET state = 'issued', serial = ?, updated_at = ? WHERE id = ? AND state = 'awaiting_app_setup'",
                arguments: [serial.rawValue, now.millis, token.rawValue])
            guard db.changesCount == 1 else { throw IchigoError(.concurrentUpdate) }  // rolls back the provisioning
            try self.appendAudit(audit, in: db)
            return true
        }
    }

    public func expireProvisioning(token: TokenID, at now: Date, audit: AuditEvent) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: "UPDATE tokens SET state = 'cancelled', updated_at = ? WHERE id = ? AND state = 'awaiting_app_setup'",
                arguments: [now.millis, token.rawValue])
            guard db.changesCount == 1 else { return false }
            try self.appendAudit(audit, in: db)
            return true
        }
    }

    // MARK: Use

    public func enqueue(_ mail: OutgoingMail) async throws {
        try await write { db in try Self.enqueue(mail, in: db) }
    }

    static func enqueue(_ mail: OutgoingMail, in db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO mail_outbox (recipient, subject, body, created_at, next_attempt_at)
                VALUES (?, ?, ?, ?, ?)
                """,
            arguments: [mail.recipient, mail.subject, mail.body, mail.createdAt.millis, mail.createdAt.millis])
    }

    public func cancelUse(
        of token: TokenID, from state: TokenState, by user: UserID, at now: Date, audit: AuditEvent
    ) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: "UPDATE tokens SET state = 'cancelled', updated_at = ? WHERE id = ? AND state = ?",
                arguments: [now.millis, token.rawValue, state.rawValue])
            guard db.changesCount == 1 else { return false }
            try db.execute(
                sql: "UPDATE users SET otp_cancelled_at = ? WHERE id = ?", arguments: [now.millis, user.rawValue])
            try self.appendAudit(audit, in: db)
            return true
        }
    }

    public func otpCancelledAt(of user: UserID) async throws -> Date? {
        try await pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT otp_cancelled_at FROM users WHERE id = ?", arguments: [user.rawValue])
                .map(Date.init(millis:))
        }
    }

    // MARK: Accounts and transfers

    public func insert(_ account: Account, audit: AuditEvent) async throws {
        try await write { db in
            // One writer: checked and inserted with nothing in between.
            guard
                try Bool.fetchOne(
                    db, sql: "SELECT 1 FROM accounts WHERE branch = ? AND number = ?",
                    arguments: [account.branch, account.number]) == nil
            else { throw IchigoError(.accountNumberTaken, field: "number") }
            try self.appendAudit(audit, in: db)
            try db.execute(
                sql: """
                    INSERT INTO accounts (id, user_id, name, branch, number, balance, contract_id)
                    VALUES (?, ?, ?, ?, ?, ?, (SELECT contract_id FROM users WHERE id = ?))
                    """,
                arguments: [
                    account.id.rawValue, account.userID.rawValue, account.name, account.branch, account.number, account.balance,
                    account.userID.rawValue,
                ])
        }
    }


    public func accounts(of user: UserID) async throws -> [Account] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM accounts WHERE user_id = ? ORDER BY number", arguments: [user.rawValue])
                .map(Account.init(stored:))
        }
    }

    public func execute(_ transfer: Transfer, by user: UserID, audit: AuditEvent) async throws -> Bool {
        try await write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM transfers WHERE id = ?", arguments: [transfer.id.rawValue]) == nil else {
                throw IchigoError(.transferDuplicate)
            }
            try db.execute(
                sql: "UPDATE accounts SET balance = balance - ? WHERE id = ? AND user_id = ? AND balance >= ?",
                arguments: [transfer.amount, transfer.accountID.rawValue, user.rawValue, transfer.amount])
            guard db.changesCount == 1 else {
                guard try Bool.fetchOne(
                    db, sql: "SELECT 1 FROM accounts WHERE id = ? AND user_id = ?", arguments: [transfer.accountID.rawValue, user.rawValue]) != nil
                else { throw IchigoError(.accountNotFound) }
                return false
            }
            // A payee at this bank is credited in the same transaction.
            if transfer.payee.bank == Transfer.ownBankCode {
                try db.execute(
                    sql: "UPDATE accounts SET balance = balance + ? WHERE branch = ? AND number = ? AND id <> ?",
                    arguments: [transfer.amount, transfer.payee.branch, transfer.payee.account, transfer.accountID.rawValue])
            }
            try db.execute(
                sql: """
                    INSERT INTO transfers (id, account_id, payee_bank, payee_branch, payee_account, payee_name, amount, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    transfer.id.rawValue, transfer.accountID.rawValue, transfer.payee.bank, transfer.payee.branch, transfer.payee.account,
                    transfer.payee.name, transfer.amount, transfer.createdAt.millis,
                ])
            try self.appendAudit(audit, in: db)
            return true
        }
    }

    public func transfers(of user: UserID, limit: Int) async throws -> [Transfer] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT t.* FROM transfers t JOIN accounts a ON a.id = t.account_id
                    WHERE a.user_id = ? ORDER BY t.created_at DESC LIMIT ?
                    """,
                arguments: [user.rawValue, limit]
            ).map(Transfer.init(stored:))
        }
    }

    // MARK: Sessions

    public func insert(_ session: WebSession) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO web_sessions (id_hash, user_id, stage, csrf_token, language, flash, data, created_at, last_seen_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    session.idHash, session.userID?.rawValue, session.stage.rawValue, session.csrfToken,
                    session.language.rawValue, session.flash, session.data, session.createdAt.millis,
                    session.lastSeenAt.millis,
                ])
        }
    }

    public func session(idHash: String) async throws -> WebSession? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM web_sessions WHERE id_hash = ?", arguments: [idHash])
                .map(WebSession.init(stored:))
        }
    }

    public func update(_ session: WebSession) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE web_sessions SET user_id = ?, stage = ?, csrf_token = ?, language = ?, flash = ?, data = ?,
                        last_seen_at = ?
                    WHERE id_hash = ?
                    """,
                arguments: [
                    session.userID?.rawValue, session.stage.rawValue, session.csrfToken, session.language.rawValue,
                    session.flash, session.data, session.lastSeenAt.millis, session.idHash,
                ])
        }
    }

    public func deleteSession(idHash: String) async throws {
        try await write { db in try db.execute(sql: "DELETE FROM web_sessions WHERE id_hash = ?", arguments: [idHash]) }
    }

    public func purgeSessions(idleSince cutoff: Date) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM web_sessions WHERE last_seen_at < ?", arguments: [cutoff.millis])
        }
    }

    // MARK: Outbox

    public func pendingMails(limit: Int, at now: Date) async throws -> [OutgoingMail] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM mail_outbox WHERE sent_at IS NULL AND next_attempt_at <= ? ORDER BY id LIMIT ?",
                arguments: [now.millis, limit]
            ).map(OutgoingMail.init(stored:))
        }
    }

    public func markSent(_ id: Int64, at now: Date) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE mail_outbox SET sent_at = ?, attempts = attempts + 1 WHERE id = ?", arguments: [now.millis, id])
        }
    }

    public func markFailed(_ id: Int64, error: String, at now: Date) async throws {
        try await write { db in
            // Back off: 10 s, 20 s, 40 s, … up to an hour.
            try db.execute(
                sql: """
                    UPDATE mail_outbox SET attempts = attempts + 1, last_error = ?,
                        next_attempt_at = ? + MIN(3600000, 10000 * (1 << MIN(attempts, 9)))
                    WHERE id = ?
                    """,
                arguments: [String(error.prefix(500)), now.millis, id])
        }
    }
}
