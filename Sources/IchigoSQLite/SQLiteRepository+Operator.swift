import Foundation
import GRDB
import Ichigo

extension SQLiteRepository: OperatorRepository {
    public func insert(_ bankOperator: BankOperator, audit: AuditEvent) async throws {
        try await write { db in
            guard
                try Bool.fetchOne(
                    db, sql: "SELECT 1 FROM operators WHERE login_id = ?", arguments: [bankOperator.loginID.rawValue])
                    == nil
            else { throw IchigoError(.loginIDTaken) }
            try db.execute(
                sql: "INSERT INTO operators (id, login_id, name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [
                    bankOperator.id.rawValue, bankOperator.loginID.rawValue, bankOperator.name,
                    bankOperator.passwordHash.encoded, bankOperator.createdAt.millis,
                ])
            try self.appendAudit(audit, in: db)
        }
    }


    public func bankOperator(loginID: LoginID) async throws -> BankOperator? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM operators WHERE login_id = ?", arguments: [loginID.rawValue])
                .map(BankOperator.init(stored:))
        }
    }

    public func bankOperator(_ id: OperatorID) async throws -> BankOperator? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM operators WHERE id = ?", arguments: [id.rawValue])
                .map(BankOperator.init(stored:))
        }
    }

    public func recordOperatorPasswordFailure(
        _ id: OperatorID, lockingAt threshold: Int, audit: AuditEvent
    ) async throws -> FailureOutcome? {
        try await write { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        UPDATE operators SET password_failures = password_failures + 1,
                            locked_at = CASE WHEN locked_at IS NULL AND password_failures + 1 >= ? THEN ?
                                             ELSE locked_at END
                        WHERE id = ? AND locked_at IS NULL
                        RETURNING password_failures, locked_at
                        """,
                    arguments: [threshold, audit.at.millis, id.rawValue])
            else { return nil }
            let count: Int = row["password_failures"]
            try self.appendAudit(audit, in: db)
            let lockedNow = (row["locked_at"] as Int64?) != nil
            if lockedNow {
                try self.appendAudit(
                    AuditEvent(
                        at: audit.at, actor: "system", action: "operator.lock", subject: id.rawValue, outcome: "ok",
                        reason: "\(threshold) consecutive wrong passwords"), in: db)
            }
            return FailureOutcome(failureCount: count, lockedNow: lockedNow)
        }
    }

    public func resetOperatorPasswordFailures(_ id: OperatorID) async throws {
        try await write { db in
            try db.execute(
                sql: "UPDATE operators SET password_failures = 0 WHERE id = ? AND locked_at IS NULL",
                arguments: [id.rawValue])
        }
    }

    public func unlockOperator(_ id: OperatorID, newPasswordHash: PasswordHash?, audit: AuditEvent) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE operators SET password_failures = 0, locked_at = NULL,
                        password_hash = COALESCE(?, password_hash) WHERE id = ?
                    """,
                arguments: [newPasswordHash?.encoded, id.rawValue])
            guard db.changesCount == 1 else { throw IchigoError(.userNotFound) }
            try self.appendAudit(audit, in: db)
        }
    }

    public func importTokens(_ tokens: [Token], audit: [AuditEvent]) async throws {
        try await write { db in
            let exists = try db.makeStatement(sql: "SELECT 1 FROM tokens WHERE serial = ?")
            for (index, token) in tokens.enumerated() {
                if try Bool.fetchOne(exists, arguments: [token.serial.rawValue]) != nil {
                    throw IchigoError(
                        .importFailed,
                        detail: "key package \(index + 1): serial \(token.serial.rawValue) is already in the database")
                }
                try self.insertToken(token, assigningTo: [], in: db)
            }
            for event in audit { try self.appendAudit(event, in: db) }
        }
    }

    public func tokens(matching filter: TokenFilter, limit: Int, offset: Int) async throws -> [Token] {
        try await pool.read { db in
            var clauses: [String] = []
            var arguments: StatementArguments = []
            if let prefix = filter.serialPrefix, !prefix.isEmpty {
                clauses.append("serial >= ? AND serial < ?")
                arguments += [prefix.uppercased(), prefix.uppercased() + "\u{FFFF}"]
            }
            if let kind = filter.kind {
                clauses.append("kind = ?")
                arguments += [kind.rawValue]
            }
            if let state = filter.state {
                clauses.append("state = ?")
                arguments += [state.rawValue]
            }
            if filter.unassignedOnly { clauses.append("contract_id IS NULL") }
            let whereClause = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
            arguments += [limit, offset]
            return try Row.fetchAll(
                db, sql: "SELECT * FROM tokens \(whereClause) ORDER BY serial LIMIT ? OFFSET ?", arguments: arguments
            ).map(Token.init(stored:))
        }
    }

    public func tokenCounts() async throws -> [TokenKind: [TokenState: Int]] {
        try await pool.read { db in
            var result: [TokenKind: [TokenState: Int]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT kind, state, COUNT(*) AS n FROM tokens GROUP BY kind, state") {
                guard let kind = TokenKind(rawValue: row["kind"]), let state = TokenState(rawValue: row["state"]) else {
                    continue
                }
                result[kind, default: [:]][state] = row["n"]
            }
            return result
        }
    }

    public func returnToInventory(_ token: TokenID, at now: Date, audit: AuditEvent) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE tokens SET state = 'issued', contract_id = NULL, failure_count = 0, locked_from = NULL, updated_at = ?
                    WHERE id = ? AND kind = 'hardware' AND state IN ('issued', 'active', 'locked')
                    """,
                arguments: [now.millis, token.rawValue])
            guard db.changesCount == 1 else { return false }
            try db.execute(sql: "UPDATE users SET token_id = NULL WHERE token_id = ?", arguments: [token.rawValue])
            try self.appendAudit(audit, in: db)
            return true
        }
    }

    public func users(loginIDPrefix prefix: String, limit: Int) async throws -> [User] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM users WHERE login_id >= ? AND login_id < ? ORDER BY login_id LIMIT ?",
                arguments: [prefix, prefix + "\u{FFFF}", limit]
            ).map(User.init(stored:))
        }
    }

    public func auditRecords(matching filter: AuditFilter, limit: Int) async throws -> [AuditRecord] {
        try await pool.read { db in
            var clauses: [String] = []
            var arguments: StatementArguments = []
            if let party = filter.party, !party.isEmpty {
                clauses.append("(subject = ? OR actor = ? OR actor = ? OR reason LIKE ?)")
                arguments += [party, party, "user:" + party, "%user=\(party)%"]
            }
            if let action = filter.action, !action.isEmpty {
                clauses.append("action = ?")
                arguments += [action]
            }
            if let from = filter.from {
                clauses.append("at >= ?")
                arguments += [from.millis]
            }
            if let until = filter.until {
                clauses.append("at < ?")
                arguments += [until.millis]
            }
            let whereClause = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
            arguments += [limit]
            return try Row.fetchAll(
                db, sql: "SELECT * FROM audit_log \(whereClause) ORDER BY seq DESC LIMIT ?", arguments: arguments
            ).map(AuditRecord.init(stored:))
        }
    }
}
