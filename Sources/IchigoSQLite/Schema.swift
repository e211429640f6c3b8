import GRDB

/// Versioned migrations. The SQL is kept to what PostgreSQL also accepts (BIGINT milliseconds for times,
/// TEXT keys, conditional updates with RETURNING), so the PostgreSQL backend can reuse it.
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: contracts, users, tokens, audit") { db in
            try db.execute(
                sql: """
                    CREATE TABLE contracts (
                        id TEXT PRIMARY KEY,
                        kind TEXT NOT NULL CHECK (kind IN ('retail', 'corporate')),
                        name TEXT NOT NULL,
                        usage_mode TEXT NOT NULL CHECK (usage_mode IN ('shared', 'individual')),
                        pin_hash TEXT,
                        created_at BIGINT NOT NULL
                    );
                    CREATE TABLE tokens (
                        id TEXT PRIMARY KEY,
                        serial TEXT NOT NULL UNIQUE,
                        kind TEXT NOT NULL CHECK (kind IN ('software', 'hardware')),
                        state TEXT NOT NULL CHECK (state IN
                            ('awaiting_app_setup', 'issued', 'active', 'locked', 'cancelled', 'revoked')),
                        sealed_seed BLOB NOT NULL,
                        algorithm TEXT NOT NULL,
                        digits INTEGER NOT NULL,
                        period INTEGER NOT NULL,
                        last_step BIGINT NOT NULL DEFAULT -1,
                        failure_count INTEGER NOT NULL DEFAULT 0,
                        drift_steps INTEGER NOT NULL DEFAULT 0,
                        created_at BIGINT NOT NULL,
                        updated_at BIGINT NOT NULL,
                        last_used_at BIGINT
                    );
                    CREATE TABLE users (
                        id TEXT PRIMARY KEY,
                        contract_id TEXT NOT NULL REFERENCES contracts(id),
                        login_id TEXT NOT NULL UNIQUE,
                        name TEXT NOT NULL,
                        role TEXT NOT NULL CHECK (role IN ('customer', 'master', 'administrator', 'ordinary')),
                        email TEXT,
                        login_password_hash TEXT,
                        confirmation_password_hash TEXT,
                        token_id TEXT REFERENCES tokens(id),
                        created_at BIGINT NOT NULL
                    );
                    CREATE INDEX users_by_token ON users(token_id);
                    CREATE INDEX users_by_contract ON users(contract_id);
                    CREATE TABLE audit_log (
                        seq BIGINT PRIMARY KEY,
                        at BIGINT NOT NULL,
                        actor TEXT NOT NULL,
                        action TEXT NOT NULL,
                        subject TEXT NOT NULL,
                        outcome TEXT NOT NULL,
                        reason TEXT,
                        prev_hash TEXT NOT NULL,
                        hash TEXT NOT NULL
                    );
                    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
                        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
                    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
                        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
                    """)
        }
        return migrator
    }
}
