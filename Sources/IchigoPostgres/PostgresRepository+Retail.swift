import Foundation
import Ichigo
import PostgresNIO

extension PostgresRepository: RetailRepository {
    // MARK: Issuance applications

    public func insert(_ application: IssuanceApplication, mail: OutgoingMail, audit: AuditEvent) async throws {
        try await write { tx in
            try await tx.run(
                """
                UPDATE issuance_applications SET status = 'cancelled', updated_at = \(application.createdAt.millis)
                WHERE user_id = \(application.userID.rawValue) AND status = 'pending'
                """)
            try await tx.run(
                """
                INSERT INTO issuance_applications (id, user_id, phone_email, activation_password_hash,
                    mail_password_hash, mail_password_expires_at, mail_password_attempts, status, created_at, updated_at)
                VALUES (\(application.id.rawValue), \(application.userID.rawValue), \(application.phoneEmail),
                    \(application.activationPasswordHash.encoded), \(application.mailPasswordHash.encoded),
                    \(application.mailPasswordExpiresAt.millis), \(application.mailPasswordAttempts),
                    \(application.status.rawValue), \(application.createdAt.millis), \(application.createdAt.millis))
                """)
            try await tx.enqueue(mail)
            tx.append(audit)
        }
    }

    public func application(_ id: ApplicationID) async throws -> IssuanceApplication? {
        try await row("SELECT * FROM issuance_applications WHERE id = \(id.rawValue)")
            .map(IssuanceApplication.init(stored:))
    }

    public func revise(
        _ id: ApplicationID, phoneEmail: String, activationPasswordHash: PasswordHash, at now: Date, audit: AuditEvent
    ) async throws -> Bool {
        try await write { tx in
            let changed = try await tx.changes(
                """
                UPDATE issuance_applications SET phone_email = \(phoneEmail),
                    activation_password_hash = \(activationPasswordHash.encoded), updated_at = \(now.millis)
                WHERE id = \(id.rawValue) AND status = 'pending'
                RETURNING 1
                """)
            guard changed == 1 else { return false }
            tx.append(audit)
            return true
        }
    }

    public func recordMailPasswordFailure(
        _ id: ApplicationID, maxAttempts: Int, at now: Date, audit: AuditEvent
    ) async throws -> Int? {
        try await write { tx in
            guard
                let row = try await tx.row(
                    """
                    UPDATE issuance_applications SET mail_password_attempts = mail_password_attempts + 1,
                        updated_at = \(now.millis),
                        status = CASE WHEN mail_password_attempts + 1 >= \(maxAttempts) THEN 'void' ELSE status END
                    WHERE id = \(id.rawValue) AND status = 'pending'
                    RETURNING mail_password_attempts
                    """)
            else { return nil }
            tx.append(audit)
            return try Columns(row)["mail_password_attempts"]
        }
    }

    public func complete(
        _ id: ApplicationID, token: Token, provisioning: Provisioning, mail: OutgoingMail, at now: Date,
        audit: [AuditEvent]
    ) async throws -> Bool {
        try await write { tx in
            guard
                let row = try await tx.row(
                    """
                    UPDATE issuance_applications SET status = 'completed', updated_at = \(now.millis)
                    WHERE id = \(id.rawValue) AND status = 'pending'
                    RETURNING user_id
                    """)
            else { return false }
            let user = UserID(rawValue: try Columns(row)["user_id"])
            guard !(try await tx.exists("SELECT 1 FROM tokens WHERE serial = \(token.serial.rawValue)")) else {
                throw IchigoError(.serialTaken)
            }
            try await Self.checkUserIsFree(user, in: tx)
            try await Self.insertTokens([token], in: tx)
            try await Self.assign(token.id, to: [user], in: tx)
            try await tx.run(
                """
                INSERT INTO provisionings (token_id, service_id, app_user_id, activation_password_hash, attempts,
                    expires_at, provisioned_at)
                VALUES (\(provisioning.tokenID.rawValue), \(provisioning.serviceID), \(provisioning.appUserID),
                    \(provisioning.activationPasswordHash.encoded), \(provisioning.attempts),
                    \(provisioning.expiresAt.millis), NULL)
                """)
            try await tx.enqueue(mail)
            for event in audit { tx.append(event) }
            return true
        }
    }

    public func close(_ id: ApplicationID, as status: ApplicationStatus, at now: Date, audit: AuditEvent) async throws
        -> Bool
    {
        try await write { tx in
            let changed = try await tx.changes(
                """
                UPDATE issuance_applications SET status = \(status.rawValue), updated_at = \(now.millis)
                WHERE id = \(id.rawValue) AND status = 'pending'
                RETURNING 1
                """)
            guard changed == 1 else { return false }
            tx.append(audit)
            return true
        }
    }

    // MARK: Provisioning


    public func provisioning(appUserID: String) async throws -> Provisioning? {
        try await row("SELECT * FROM provisionings WHERE app_user_id = \(appUserID)").map(Provisioning.init(stored:))
    }

    public func provisioning(token: TokenID) async throws -> Provisioning? {
        try await row("SELECT * FROM provisionings WHERE token_id = \(token.rawValue)").map(Provisioning.init(stored:))
    }

    public func recordActivationFailure(
        token: TokenID, maxAttempts: Int, at now: Date, audit: AuditEvent
    ) async throws -> (attempts: Int, voided: Bool)? {
        let result: ActivationFailure? = try await write { tx in
            guard
                let row = try await tx.row(
                    """
                    UPDATE provisionings SET attempts = attempts + 1
                    WHERE token_id = \(token.rawValue) AND provisioned_at IS NULL
                        AND (SELECT state FROM tokens WHERE id = \(token.rawValue)) = 'awaiting_app_setup'
                    RETURNING attempts
                    """)
            else { return nil }
            let attempts: Int = try Columns(row)["attempts"]
            tx.append(audit)
            let voided = attempts >= maxAttempts
            if voided {
                try await tx.run(
                    """
                    UPDATE tokens SET state = 'cancelled', updated_at = \(now.millis)
                    WHERE id = \(token.rawValue) AND state = 'awaiting_app_setup'
                    """)
                var event = audit
                event.action = "token.cancel"
                event.outcome = "ok"
                event.reason = "\(maxAttempts) wrong activation passwords: issuance void"
                tx.append(event)
            }
            return ActivationFailure(attempts: attempts, voided: voided)
        }
        return result.map { ($0.attempts, $0.voided) }
    }

    /// `recordActivationFailure`'s answer, Sendable to leave the transaction.
    private struct ActivationFailure: Sendable {
        var attempts: Int
        var voided: Bool
    }

    public func completeProvisioning(token: TokenID, serial: SerialNumber, at now: Date, audit: AuditEvent) async throws
        -> Bool
    {
        try await write { tx in
            guard !(try await tx.exists("SELECT 1 FROM tokens WHERE serial = \(serial.rawValue)")) else {
                throw IchigoError(.serialTaken)
            }
            let provisioned = try await tx.changes(
                """
                UPDATE provisionings SET provisioned_at = \(now.millis)
                WHERE token_id = \(token.rawValue) AND provisioned_at IS NULL
                RETURNING 1
                """)
            guard provisioned == 1 else { return false }
            let moved = try await tx.changes(
                """
                UPDATE tokens SET state = 'issued', serial = \(serial.rawValue), updated_at = \(now.millis)
                WHERE id = \(token.rawValue) AND state = 'awaiting_app_setup'
                RETURNING 1
                """)
            guard moved == 1 else { throw IchigoError(.concurrentUpdate) }  // rolls back the provisioning
            tx.append(audit)
            return true
        }
    }

    public func expireProvisioning(token: TokenID, at now: Date, audit: AuditEvent) async throws -> Bool {
        try await write { tx in
            let changed = try await tx.changes(
                """
                UPDATE tokens SET state = 'cancelled', updated_at = \(now.millis)
                WHERE id = \(token.rawValue) AND state = 'awaiting_app_setup'
                RETURNING 1
                """)
            guard changed == 1 else { return false }
            tx.append(audit)
            return true
        }
    }

    // MARK: Use

    public func enqueue(_ mail: OutgoingMail) async throws {
        try await write { tx in try await tx.enqueue(mail) }
    }

    public func cancelUse(
        of token: TokenID, from state: TokenState, by user: UserID, at now: Date, audit: AuditEvent
    ) async throws -> Bool {
        try await write { tx in
            let changed = try await tx.changes(
                """
                UPDATE tokens SET state = 'cancelled', updated_at = \(now.millis)
                WHERE id = \(token.rawValue) AND state = \(state.rawValue)
                RETURNING 1
                """)
            guard changed == 1 else { return false }
            try await tx.run("UPDATE users SET otp_cancelled_at = \(now.millis) WHERE id = \(user.rawValue)")
            tx.append(audit)
            return true
        }
    }

    public func otpCancelledAt(of user: UserID) async throws -> Date? {
        guard let row = try await row("SELECT otp_cancelled_at FROM users WHERE id = \(user.rawValue)") else {
            return nil
        }
        return (try Columns(row)["otp_cancelled_at"] as Int64?).map(Date.init(millis:))
    }

    // MARK: Accounts and transfers


    public func insert(_ account: Account, audit: AuditEvent) async throws {
        try await write { tx in
            try await tx.run(
                """
                INSERT INTO accounts (id, user_id, name, branch, number, balance, contract_id)
                VALUES (\(account.id.rawValue), \(account.userID.rawValue), \(account.name), \(account.branch),
                    \(account.number), \(account.balance),
                    (SELECT contract_id FROM users WHERE id = \(account.userID.rawValue)))
                """)
            tx.append(audit)
        }
    }

    public func accounts(of user: UserID) async throws -> [Account] {
        try await rows("SELECT * FROM accounts WHERE user_id = \(user.rawValue) ORDER BY number")
            .map(Account.init(stored:))
    }

    public func execute(_ transfer: Transfer, by user: UserID, audit: AuditEvent) async throws -> Bool {
        try await write { tx in
            // A concurrent duplicate fails on `transfers_pkey` at the insert below: `transferDuplicate` too.
            guard !(try await tx.exists("SELECT 1 FROM transfers WHERE id = \(transfer.id.rawValue)")) else {
                throw IchigoError(.transferDuplicate)
            }
            let debited = try await tx.changes(
                """
                UPDATE accounts SET balance = balance - \(transfer.amount)
                WHERE id = \(transfer.accountID.rawValue) AND user_id = \(user.rawValue) AND balance >= \(transfer.amount)
                RETURNING 1
                """)
            guard debited == 1 else {
                guard
                    try await tx.exists(
                        "SELECT 1 FROM accounts WHERE id = \(transfer.accountID.rawValue) AND user_id = \(user.rawValue)")
                else { throw IchigoError(.accountNotFound) }
                return false
            }
            // A payee at this bank is credited in the same transaction.
            if transfer.payee.bank == Transfer.ownBankCode {
                try await tx.run(
                    """
                    UPDATE accounts SET balance = balance + \(transfer.amount)
                    WHERE branch = \(transfer.payee.branch) AND number = \(transfer.payee.account)
                        AND id <> \(transfer.accountID.rawValue)
                    """)
            }
            try await tx.run(
                """
                INSERT INTO transfers (id, account_id, payee_bank, payee_branch, payee_account, payee_name, amount,
                    created_at)
                VALUES (\(transfer.id.rawValue), \(transfer.accountID.rawValue), \(transfer.payee.bank), \(transfer.payee.branch),
                    \(transfer.payee.account), \(transfer.payee.name), \(transfer.amount), \(transfer.createdAt.millis))
                """)
            tx.append(audit)
            return true
        }
    }

    public func transfers(of user: UserID, limit: Int) async throws -> [Transfer] {
        try await rows(
            """
            SELECT t.* FROM transfers t JOIN accounts a ON a.id = t.account_id
            WHERE a.user_id = \(user.rawValue) ORDER BY t.created_at DESC LIMIT \(limit)
            """
        ).map(Transfer.init(stored:))
    }

    // MARK: Sessions

    public func insert(_ session: WebSession) async throws {
        try await write { tx in
            try await tx.run(
                """
                INSERT INTO web_sessions (id_hash, user_id, stage, csrf_token, language, flash, data, created_at,
                    last_seen_at)
                VALUES (\(session.idHash), \(session.userID?.rawValue), \(session.stage.rawValue), \(session.csrfToken),
                    \(session.language.rawValue), \(session.flash), \(session.data), \(session.createdAt.millis),
                    \(session.lastSeenAt.millis))
                """)
        }
    }

    public func session(idHash: String) async throws -> WebSession? {
        try await row("SELECT * FROM web_sessions WHERE id_hash = \(idHash)").map(WebSession.init(stored:))
    }

    public func update(_ session: WebSession) async throws {
        try await write { tx in
            try await tx.run(
                """
                UPDATE web_sessions SET user_id = \(session.userID?.rawValue), stage = \(session.stage.rawValue),
                    csrf_token = \(session.csrfToken), language = \(session.language.rawValue), flash = \(session.flash),
                    data = \(session.data), last_seen_at = \(session.lastSeenAt.millis)
                WHERE id_hash = \(session.idHash)
                """)
        }
    }

    public func deleteSession(idHash: String) async throws {
        try await write { tx in try await tx.run("DELETE FROM web_sessions WHERE id_hash = \(idHash)") }
    }

    /// Removes idle sessions. Every instance may run it at once: each deletes what is still there.
    public func purgeSessions(idleSince cutoff: Date) async throws {
        try await write { tx in try await tx.run("DELETE FROM web_sessions WHERE last_seen_at < \(cutoff.millis)") }
    }

    // MARK: Outbox

    /// Claims, for this repository instance and `mailLease`, the mails due at `now` that no other instance holds a
    /// live claim on, and returns them oldest first. Rows another instance is claiming at this very moment are
    /// skipped (`SKIP LOCKED`) rather than waited for; a claim that ran out (its sender died) is taken over.
    public func pendingMails(limit: Int, at now: Date) async throws -> [OutgoingMail] {
        let instance = instance
        let claimed = try await write { tx in
            try await tx.rows(
                """
                UPDATE mail_outbox SET claimed_by = \(instance), claimed_until = \(now.millis + Int64(Self.mailLease * 1000))
                WHERE id IN (
                    SELECT id FROM mail_outbox
                    WHERE sent_at IS NULL AND next_attempt_at <= \(now.millis)
                        AND (claimed_by IS NULL OR claimed_by = \(instance) OR claimed_until <= \(now.millis))
                    ORDER BY id LIMIT \(limit)
                    FOR UPDATE SKIP LOCKED)
                RETURNING id, recipient, subject, body, created_at
                """
            ).map(OutgoingMail.init(stored:))
        }
        return claimed.sorted { ($0.id ?? 0) < ($1.id ?? 0) }
    }

    public func markSent(_ id: Int64, at now: Date) async throws {
        try await write { tx in
            try await tx.run(
                """
                UPDATE mail_outbox SET sent_at = \(now.millis), attempts = attempts + 1, claimed_by = NULL,
                    claimed_until = NULL
                WHERE id = \(id)
                """)
        }
    }

    public func markFailed(_ id: Int64, error: String, at now: Date) async throws {
        try await write { tx in
            // Back off: 10 s, 20 s, 40 s, … up to an hour.
            try await tx.run(
                """
                UPDATE mail_outbox SET attempts = attempts + 1, last_error = \(String(error.prefix(500))),
                    next_attempt_at = \(now.millis) + LEAST(3600000, 10000 * (1::bigint << LEAST(attempts, 9))),
                    claimed_by = NULL, claimed_until = NULL
                WHERE id = \(id)
                """)
        }
    }
}
