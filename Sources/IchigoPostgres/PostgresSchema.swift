import Foundation
import Ichigo
import Logging
import PostgresNIO

/// Versioned migrations for PostgreSQL, recorded in `schema_migrations`.
///
/// All pending migrations run in one transaction that first takes `pg_advisory_xact_lock(migrationLock)`, so
/// several instances starting at once apply each migration exactly once: the others wait for the lock, then find
/// nothing left to do. DDL is transactional in PostgreSQL, so a failed migration leaves no half-built schema.
///
/// The tables and columns are those of the SQLite schema's end state (v1–v7): times as BIGINT milliseconds, blobs as
/// BYTEA, the same names and checks. Added for several instances: `audit_chain_head` (one row: the chain's last
/// sequence number and hash, locked by every transaction that appends audit records) and `mail_outbox.claimed_by` /
/// `claimed_until` (which instance is sending a mail, until when). Text that is sorted or searched by prefix (login
/// IDs, serials, account numbers) is `COLLATE "C"`, so it orders byte by byte as in SQLite whatever the database's
/// locale.
enum PostgresSchema {
    /// The advisory lock key migrations hold: "Ichigo" in ASCII.
    static let migrationLock: Int64 = 0x4963_6869_676F

    struct Migration: Sendable {
        let id: String
        let statements: [String]
    }

    static let migrations: [Migration] = [
        Migration(
            id: "v1: contracts, users, tokens, audit chain, retail, corporate, operators (SQLite v1–v5)",
            statements: [
                """
                CREATE TABLE contracts (
                    id TEXT PRIMARY KEY,
                    kind TEXT NOT NULL CHECK (kind IN ('retail', 'corporate')),
                    name TEXT NOT NULL,
                    usage_mode TEXT NOT NULL CHECK (usage_mode IN ('shared', 'individual')),
                    pin_hash TEXT,
                    created_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE tokens (
                    id TEXT PRIMARY KEY,
                    serial TEXT COLLATE "C" NOT NULL CONSTRAINT tokens_serial_unique UNIQUE,
                    kind TEXT NOT NULL CHECK (kind IN ('software', 'hardware')),
                    state TEXT NOT NULL CHECK (state IN
                        ('awaiting_app_setup', 'issued', 'active', 'locked', 'cancelled', 'revoked')),
                    sealed_seed BYTEA NOT NULL,
                    algorithm TEXT NOT NULL,
                    digits INTEGER NOT NULL,
                    period INTEGER NOT NULL,
                    last_step BIGINT NOT NULL DEFAULT -1,
                    failure_count INTEGER NOT NULL DEFAULT 0,
                    drift_steps INTEGER NOT NULL DEFAULT 0,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    last_used_at BIGINT,
                    contract_id TEXT REFERENCES contracts(id),
                    locked_from TEXT
                )
                """,
                "CREATE INDEX tokens_by_contract ON tokens(contract_id)",
                "CREATE INDEX tokens_by_kind_state ON tokens(kind, state)",
                """
                CREATE TABLE users (
                    id TEXT PRIMARY KEY,
                    contract_id TEXT NOT NULL CONSTRAINT users_contract_id_fkey REFERENCES contracts(id),
                    login_id TEXT COLLATE "C" NOT NULL CONSTRAINT users_login_id_unique UNIQUE,
                    name TEXT NOT NULL,
                    role TEXT NOT NULL CHECK (role IN ('customer', 'master', 'administrator', 'ordinary')),
                    email TEXT,
                    login_password_hash TEXT,
                    confirmation_password_hash TEXT,
                    token_id TEXT REFERENCES tokens(id),
                    created_at BIGINT NOT NULL,
                    otp_cancelled_at BIGINT,
                    password_failures INTEGER NOT NULL DEFAULT 0,
                    login_locked_at BIGINT,
                    permissions TEXT NOT NULL DEFAULT '{"accountLimits":{},"authorities":[]}'
                )
                """,
                "CREATE INDEX users_by_token ON users(token_id)",
                "CREATE INDEX users_by_contract ON users(contract_id)",
                """
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
                )
                """,
                "CREATE INDEX audit_by_subject ON audit_log(subject)",
                "CREATE INDEX audit_by_actor ON audit_log(actor)",
                """
                CREATE FUNCTION ichigo_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION 'the audit trail is append-only' USING ERRCODE = 'insufficient_privilege';
                END
                $$
                """,
                """
                CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
                    FOR EACH ROW EXECUTE FUNCTION ichigo_audit_log_append_only()
                """,
                """
                CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
                    FOR EACH STATEMENT EXECUTE FUNCTION ichigo_audit_log_append_only()
                """,
                // The chain's end: every transaction appending records locks this row just before it commits,
                // chains its records from it and moves it on (see `PostgresRepository` on the audit chain).
                """
                CREATE TABLE audit_chain_head (
                    id SMALLINT PRIMARY KEY CHECK (id = 1),
                    seq BIGINT NOT NULL,
                    hash TEXT NOT NULL
                )
                """,
                "INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, 0, '\(AuditChain.genesis)')",
                """
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
                )
                """,
                "CREATE INDEX issuance_by_user ON issuance_applications(user_id, status)",
                """
                CREATE TABLE provisionings (
                    token_id TEXT PRIMARY KEY REFERENCES tokens(id),
                    service_id TEXT NOT NULL,
                    app_user_id TEXT NOT NULL UNIQUE,
                    activation_password_hash TEXT NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    expires_at BIGINT NOT NULL,
                    provisioned_at BIGINT
                )
                """,
                """
                CREATE TABLE accounts (
                    id TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES users(id),
                    name TEXT NOT NULL,
                    branch TEXT COLLATE "C" NOT NULL,
                    number TEXT COLLATE "C" NOT NULL,
                    balance BIGINT NOT NULL CHECK (balance >= 0),
                    contract_id TEXT REFERENCES contracts(id),
                    UNIQUE (branch, number)
                )
                """,
                "CREATE INDEX accounts_by_user ON accounts(user_id)",
                "CREATE INDEX accounts_by_contract ON accounts(contract_id)",
                """
                CREATE TABLE transfers (
                    id TEXT CONSTRAINT transfers_pkey PRIMARY KEY,
                    account_id TEXT NOT NULL REFERENCES accounts(id),
                    payee_bank TEXT NOT NULL,
                    payee_branch TEXT NOT NULL,
                    payee_account TEXT NOT NULL,
                    payee_name TEXT NOT NULL,
                    amount BIGINT NOT NULL CHECK (amount > 0),
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX transfers_by_account ON transfers(account_id, created_at)",
                """
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
                )
                """,
                "CREATE INDEX web_sessions_by_last_seen ON web_sessions(last_seen_at)",
                // `claimed_by`/`claimed_until`: the instance sending the mail and until when (see `pendingMails`).
                """
                CREATE TABLE mail_outbox (
                    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    recipient TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    body TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    sent_at BIGINT,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    last_error TEXT,
                    next_attempt_at BIGINT NOT NULL,
                    claimed_by TEXT,
                    claimed_until BIGINT
                )
                """,
                "CREATE INDEX mail_outbox_pending ON mail_outbox(next_attempt_at, id) WHERE sent_at IS NULL",
                """
                CREATE TABLE corporate_transfers (
                    id TEXT COLLATE "C" CONSTRAINT corporate_transfers_pkey PRIMARY KEY,
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
                )
                """,
                "CREATE INDEX corporate_transfers_by_contract ON corporate_transfers(contract_id, status, created_at)",
                """
                CREATE TABLE operators (
                    id TEXT PRIMARY KEY,
                    login_id TEXT COLLATE "C" NOT NULL CONSTRAINT operators_login_id_unique UNIQUE,
                    name TEXT NOT NULL,
                    password_hash TEXT NOT NULL,
                    password_failures INTEGER NOT NULL DEFAULT 0,
                    locked_at BIGINT,
                    created_at BIGINT NOT NULL
                )
                """,
            ]),
        Migration(
            id: "v2: API keys (SQLite v6)",
            statements: [
                // Only the SHA-256 of each secret; a revoked key keeps its row (and name) for the audit trail.
                """
                CREATE TABLE api_keys (
                    name TEXT COLLATE "C" CONSTRAINT api_keys_pkey PRIMARY KEY,
                    secret_hash TEXT NOT NULL CONSTRAINT api_keys_secret_hash_unique UNIQUE,
                    scopes TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    revoked_at BIGINT
                )
                """
            ]),
        Migration(
            id: "v3: transaction signing (SQLite v7)",
            statements: [
                // A token's OCRA suite for 取引認証 and the last OCRA time step or counter accepted for a signature;
                // the JSON API's challenges, answered once.
                "ALTER TABLE tokens ADD COLUMN ocra_suite TEXT",
                "ALTER TABLE tokens ADD COLUMN ocra_last_step BIGINT NOT NULL DEFAULT -1",
                """
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
                )
                """,
            ]),
        Migration(
            id: "v4: no unused audit indexes (SQLite v8)",
            statements: [
                // The one search by party also matches `reason LIKE '%user=…%'`, so it reads the trail newest first
                // whatever the indexes; each index cost every verification's audit record one more B-tree insert.
                "DROP INDEX IF EXISTS audit_by_subject",
                "DROP INDEX IF EXISTS audit_by_actor",
            ]),
        Migration(
            id: "v5: room in the token pages for in-place updates",
            statements: [
                // Every verification updates its token's row. With full pages (fillfactor 100) the new version
                // goes to another page, and each of the four indexes on tokens gets an entry for it; with room left
                // on the page the update stays there (a HOT update) and no index is touched. Pages filled from now
                // on keep a fifth free; a table already full gains room as its pages are rewritten.
                "ALTER TABLE tokens SET (fillfactor = 80)",
            ]),
        Migration(
            id: "v6: passkeys and their single-use challenges (SQLite v9)",
            statements: [
                // A person's passkeys (the credential ID unique across every user, the counter moved by
                // compare-and-set) and ceremony challenges, found by the SHA-256 of their text and taken out by one
                // DELETE … RETURNING, so each is accepted at most once across instances.
                """
                CREATE TABLE passkeys (
                    credential_id TEXT CONSTRAINT passkeys_pkey PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES users(id),
                    name TEXT NOT NULL,
                    public_key BYTEA NOT NULL,
                    algorithm INTEGER NOT NULL,
                    sign_count BIGINT NOT NULL,
                    aaguid TEXT NOT NULL,
                    transports TEXT NOT NULL,
                    backup_eligible BOOLEAN NOT NULL,
                    backed_up BOOLEAN NOT NULL,
                    attestation TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    last_used_at BIGINT,
                    clone_suspected BOOLEAN NOT NULL DEFAULT FALSE
                )
                """,
                "CREATE INDEX passkeys_by_user ON passkeys(user_id, created_at)",
                """
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
                )
                """,
                "CREATE INDEX passkey_challenges_by_expiry ON passkey_challenges(expires_at)",
            ]),
        Migration(
            id: "v7: key versions (rotation): seeds and audit records name the version they use (SQLite v10)",
            statements: [
                // Every existing seed and record was sealed or signed with the master key, which becomes version 1.
                """
                CREATE TABLE key_versions (
                    version INTEGER PRIMARY KEY,
                    wrapped_by TEXT NOT NULL,
                    wrapped BYTEA,
                    created_at BIGINT NOT NULL,
                    active_from BIGINT NOT NULL,
                    retired_at BIGINT
                )
                """,
                "ALTER TABLE tokens ADD COLUMN seed_key_version INTEGER NOT NULL DEFAULT 1",
                "CREATE INDEX tokens_by_seed_key_version ON tokens(seed_key_version)",
                "ALTER TABLE audit_log ADD COLUMN key_version INTEGER NOT NULL DEFAULT 1",
            ]),
    ]

    /// Applies every migration not yet recorded, in order, in one transaction under the advisory lock.
    /// - Returns: the migrations applied now.
    @discardableResult
    static func migrate(_ client: PostgresClient, logger: Logger) async throws -> [String] {
        try await client.withConnection { connection in
            try await connection.query("BEGIN", logger: logger)
            do {
                // A server's connections carry its statement and lock timeouts; a migration (or waiting for another
                // instance's) may take longer.
                try await connection.query("SET LOCAL statement_timeout = 0", logger: logger)
                try await connection.query("SET LOCAL lock_timeout = 0", logger: logger)
                try await connection.query("SELECT pg_advisory_xact_lock(\(migrationLock))", logger: logger)
                try await connection.query(
                    """
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        id TEXT PRIMARY KEY,
                        applied_at BIGINT NOT NULL
                    )
                    """, logger: logger)
                var applied = Set<String>()
                for try await id in try await connection.query("SELECT id FROM schema_migrations", logger: logger)
                    .decode(String.self)
                {
                    applied.insert(id)
                }
                var appliedNow: [String] = []
                for migration in migrations where !applied.contains(migration.id) {
                    for statement in migration.statements {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query(
                        "INSERT INTO schema_migrations (id, applied_at) VALUES (\(migration.id), \(Date().millis))",
                        logger: logger)
                    appliedNow.append(migration.id)
                }
                try await connection.query("COMMIT", logger: logger)
                return appliedNow
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }
}
