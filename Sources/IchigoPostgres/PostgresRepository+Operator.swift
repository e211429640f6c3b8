import Foundation
import Ichigo
import PostgresNIO

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


    public func bankOperator(loginID: LoginID) async throws -> BankOperator? {
        try await row("SELECT * FROM operators WHERE login_id = \(loginID.rawValue)").map(BankOperator.init(stored:))
    }

    public func bankOperator(_ id: OperatorID) async throws -> BankOperator? {
        try await row("SELECT * FROM operators WHERE id = \(id.rawValue)").map(BankOperator.init(stored:))
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
        ).map { try Token(stored: $0) }
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
        ).map(User.init(stored:))
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
        ).map(AuditRecord.init(stored:))
    }
}
