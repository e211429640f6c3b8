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
        migrator.registerMigration("v2: retail flows, sessions, outbox, accounts") { db in
            try db.execute(
                sql: """
                    ALTER TABLE users ADD COLUMN otp_cancelled_at BIGINT;
                    CREATE TABLE issuance_applications (
                        id TEXT PRIMARY KEY,
                        user_id TEXT NOT NULL REFERENCES users(id),
                        phone_email TEXT NOT NULL,
                        activation_password_hash TEXT NOT NULL,
                        mail_password_hash TEXT NOT NULL,
                        mail_password_expires_at BIGINT NOT NULL,
                        mail_password_attempts INTEGER NOT NULL DEFAULT 0,
                        status TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'cancelled', 'void')),
                        created_at BIGINT NOT NULL,
                        updated_at BIGINT NOT NULL
                    );
                    CREATE INDEX issuance_by_user ON issuance_applications(user_id, status);
                    CREATE TABLE provisionings (
                        token_id TEXT PRIMARY KEY REFERENCES tokens(id),
                        service_id TEXT NOT NULL,
                        app_user_id TEXT NOT NULL UNIQUE,
                        activation_password_hash TEXT NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        expires_at BIGINT NOT NULL,
                        provisioned_at BIGINT
                    );
                    CREATE TABLE accounts (
                        id TEXT PRIMARY KEY,
                        user_id TEXT NOT NULL REFERENCES users(id),
                        name TEXT NOT NULL,
                        branch TEXT NOT NULL,
                        number TEXT NOT NULL,
                        balance BIGINT NOT NULL CHECK (balance >= 0),
                        UNIQUE (branch, number)
                    );
                    CREATE INDEX accounts_by_user ON accounts(user_id);
                    CREATE TABLE transfers (
                        id TEXT PRIMARY KEY,
                        account_id TEXT NOT NULL REFERENCES accounts(id),
                        payee_bank TEXT NOT NULL,
                        payee_branch TEXT NOT NULL,
                        payee_account TEXT NOT NULL,
                        payee_name TEXT NOT NULL,
                        amount BIGINT NOT NULL CHECK (amount > 0),
                        created_at BIGINT NOT NULL
                    );
                    CREATE INDEX transfers_by_account ON transfers(account_id, created_at);
                    CREATE TABLE web_sessions (
                        id_hash TEXT PRIMARY KEY,
                        user_id TEXT,
                        stage TEXT NOT NULL,
                        csrf_token TEXT NOT NULL,
                        language TEXT NOT NULL,
                        flash TEXT,
                        data TEXT,
                        created_at BIGINT NOT NULL,
                        last_seen_at BIGINT NOT NULL
                    );
                    CREATE TABLE mail_outbox (
                        id INTEGER PRIMARY KEY,
                        recipient TEXT NOT NULL,
                        subject TEXT NOT NULL,
                        body TEXT NOT NULL,
                        created_at BIGINT NOT NULL,
                        sent_at BIGINT,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        last_error TEXT,
                        next_attempt_at BIGINT NOT NULL
                    );
                    CREATE INDEX mail_outbox_pending ON mail_outbox(sent_at, next_attempt_at);
                    """)
        }
        migrator.registerMigration("v3: password failures and login lock") { db in
            try db.execute(
                sql: """
                    ALTER TABLE users ADD COLUMN password_failures INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE users ADD COLUMN login_locked_at BIGINT;
                    """)
        }
        migrator.registerMigration("v4: corporate flows, hardware inventory, operators") { db in
            try db.execute(
                sql: """
                    ALTER TABLE tokens ADD COLUMN contract_id TEXT REFERENCES contracts(id);
                    UPDATE tokens SET contract_id =
                        (SELECT u.contract_id FROM users u WHERE u.token_id = tokens.id LIMIT 1);
                    CREATE INDEX tokens_by_contract ON tokens(contract_id);
                    CREATE INDEX tokens_by_kind_state ON tokens(kind, state);
                    ALTER TABLE users ADD COLUMN permissions TEXT NOT NULL
                        DEFAULT '{"accountLimits":{},"authorities":[]}';
                    ALTER TABLE accounts ADD COLUMN contract_id TEXT REFERENCES contracts(id);
                    UPDATE accounts SET contract_id = (SELECT u.contract_id FROM users u WHERE u.id = accounts.user_id);
                    CREATE INDEX accounts_by_contract ON accounts(contract_id);
                    CREATE TABLE corporate_transfers (
                        id TEXT PRIMARY KEY,
                        contract_id TEXT NOT NULL REFERENCES contracts(id),
                        account_id TEXT NOT NULL REFERENCES accounts(id),
                        payee_bank TEXT NOT NULL,
                        payee_branch TEXT NOT NULL,
                        payee_account TEXT NOT NULL,
                        payee_name TEXT NOT NULL,
                        amount BIGINT NOT NULL CHECK (amount > 0),
                        status TEXT NOT NULL CHECK (status IN ('pending', 'approved')),
                        created_by TEXT NOT NULL REFERENCES users(id),
                        created_at BIGINT NOT NULL,
                        approved_by TEXT REFERENCES users(id),
                        approved_at BIGINT
                    );
                    CREATE INDEX corporate_transfers_by_contract ON corporate_transfers(contract_id, status, created_at);
                    CREATE TABLE operators (
                        id TEXT PRIMARY KEY,
                        login_id TEXT NOT NULL UNIQUE,
                        name TEXT NOT NULL,
                        password_hash TEXT NOT NULL,
                        password_failures INTEGER NOT NULL DEFAULT 0,
                        locked_at BIGINT,
                        created_at BIGINT NOT NULL
                    );
                    CREATE INDEX audit_by_subject ON audit_log(subject);
                    CREATE INDEX audit_by_actor ON audit_log(actor);
                    """)
        }
        migrator.registerMigration("v5: the state a token was locked from") { db in
            // Unlock returns a token to where it was: a token never activated stays awaiting its first code.
            try db.execute(
                sql: """
                    ALTER TABLE tokens ADD COLUMN locked_from TEXT;
                    UPDATE tokens SET locked_from = CASE WHEN last_step < 0 THEN 'issued' ELSE 'active' END
                        WHERE state = 'locked';
                    """)
        }
        migrator.registerMigration("v6: API keys") { db in
            // Only the SHA-256 of each secret; a revoked key keeps its row (and name) for the audit trail.
            try db.execute(
                sql: """
                    CREATE TABLE api_keys (
                        name TEXT PRIMARY KEY,
                        secret_hash TEXT NOT NULL UNIQUE,
                        scopes TEXT NOT NULL,
                        created_at BIGINT NOT NULL,
                        revoked_at BIGINT
                    );
                    """)
        }
        migrator.registerMigration("v7: transaction signing (OCRA suites, signature replay state, challenges)") { db in
            // A token's OCRA suite for 取引認証 and the last OCRA time step or counter accepted for a signature (each
            // signature works once, by a conditional update as for codes); the JSON API's challenges, answered once.
            try db.execute(
                sql: """
                    ALTER TABLE tokens ADD COLUMN ocra_suite TEXT;
                    ALTER TABLE tokens ADD COLUMN ocra_last_step BIGINT NOT NULL DEFAULT -1;
                    CREATE TABLE signing_challenges (
                        id TEXT PRIMARY KEY,
                        user_id TEXT NOT NULL REFERENCES users(id),
                        token_id TEXT NOT NULL REFERENCES tokens(id),
                        suite TEXT NOT NULL,
                        challenge TEXT NOT NULL,
                        payee_account TEXT NOT NULL,
                        amount BIGINT NOT NULL CHECK (amount > 0),
                        created_at BIGINT NOT NULL,
                        expires_at BIGINT NOT NULL,
                        answered_at BIGINT
                    );
                    """)
        }
        migrator.registerMigration("v8: the audit trail keyed by its rowid") { db in
            // `seq BIGINT PRIMARY KEY` is a separate unique index beside the table's rowid: every record wrote two
            // B-trees for one key. `INTEGER PRIMARY KEY` makes `seq` the rowid itself. The table is rebuilt (SQLite
            // cannot change a primary key in place), its records copied unchanged, and its guards put back.
            //
            // Without `audit_by_subject` and `audit_by_actor`: the one search by party (`auditRecords(matching:)`)
            // also matches `reason LIKE '%user=…%'`, so it reads the trail newest first whatever the indexes, and
            // the subject index cost a random page write for every verification.
            try db.execute(
                sql: """
                    CREATE TABLE audit_log_v8 (
                        seq INTEGER PRIMARY KEY,
                        at BIGINT NOT NULL,
                        actor TEXT NOT NULL,
                        action TEXT NOT NULL,
                        subject TEXT NOT NULL,
                        outcome TEXT NOT NULL,
                        reason TEXT,
                        prev_hash TEXT NOT NULL,
                        hash TEXT NOT NULL
                    );
                    INSERT INTO audit_log_v8 (seq, at, actor, action, subject, outcome, reason, prev_hash, hash)
                        SELECT seq, at, actor, action, subject, outcome, reason, prev_hash, hash FROM audit_log
                        ORDER BY seq;
                    DROP TRIGGER audit_log_no_update;
                    DROP TRIGGER audit_log_no_delete;
                    DROP TABLE audit_log;
                    ALTER TABLE audit_log_v8 RENAME TO audit_log;
                    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
                        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
                    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
                        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
                    """)
        }
        migrator.registerMigration("v9: passkeys (WebAuthn credentials) and their single-use challenges") { db in
            // A person's passkeys: the credential ID (base64url) is unique across every user, the COSE key kept as
            // the authenticator encoded it, the counter moved by compare-and-set. A challenge is found by the SHA-256
            // of its text and taken out by one delete, so each is accepted at most once.
            try db.execute(
                sql: """
                    CREATE TABLE passkeys (
                        credential_id TEXT PRIMARY KEY,
                        user_id TEXT NOT NULL REFERENCES users(id),
                        name TEXT NOT NULL,
                        public_key BLOB NOT NULL,
                        algorithm INTEGER NOT NULL,
                        sign_count BIGINT NOT NULL,
                        aaguid TEXT NOT NULL,
                        transports TEXT NOT NULL,
                        backup_eligible INTEGER NOT NULL,
                        backed_up INTEGER NOT NULL,
                        attestation TEXT NOT NULL,
                        created_at BIGINT NOT NULL,
                        last_used_at BIGINT,
                        clone_suspected INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE INDEX passkeys_by_user ON passkeys(user_id, created_at);
                    CREATE TABLE passkey_challenges (
                        challenge_key TEXT PRIMARY KEY,
                        challenge TEXT NOT NULL,
                        purpose TEXT NOT NULL,
                        binding TEXT NOT NULL,
                        user_id TEXT,
                        audience TEXT,
                        bound_digest TEXT,
                        created_at BIGINT NOT NULL,
                        expires_at BIGINT NOT NULL
                    );
                    CREATE INDEX passkey_challenges_by_expiry ON passkey_challenges(expires_at);
                    """)
        }
        migrator.registerMigration("v10: key versions (rotation): seeds and audit records name the version they use") {
            db in
            // Every existing seed and record was sealed or signed with the master key, which becomes version 1.
            try db.execute(
                sql: """
                    CREATE TABLE key_versions (
                        version INTEGER PRIMARY KEY,
                        wrapped_by TEXT NOT NULL,
                        wrapped BLOB,
                        created_at BIGINT NOT NULL,
                        active_from BIGINT NOT NULL,
                        retired_at BIGINT
                    );
                    ALTER TABLE tokens ADD COLUMN seed_key_version INTEGER NOT NULL DEFAULT 1;
                    CREATE INDEX tokens_by_seed_key_version ON tokens(seed_key_version);
                    ALTER TABLE audit_log ADD COLUMN key_version INTEGER NOT NULL DEFAULT 1;
                    """)
        }
        return migrator
    }
}
