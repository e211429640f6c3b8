import Ichigo
import PostgresNIO

/// The statements every batch of verifications runs, as prepared statements: each connection has PostgreSQL parse
/// and analyse them once and then only binds and executes them, instead of parsing, analysing and planning every
/// statement of every batch again (a third of PostgreSQL's CPU in the verification benchmark). Their text is fixed:
/// a batch's rows travel as arrays, not as more placeholders. The columns are named, never `*`, so a later
/// migration that adds a column does not change a prepared statement's result. Each has a fixed name (the default
/// is built by reflection at every execution).
enum HotStatements {
    /// The tokens of a batch's users, locked in one order (by id) so that batches of several lanes and instances
    /// never deadlock; each row carries its user's id as `user_id` and the token's columns prefixed `t_`.
    struct LockTokens: PostgresPreparedStatement {
        static let name = "ichigo_lock_tokens"
        static let sql = """
            SELECT u.id AS user_id, \(PostgresRepository.tokenColumns(of: "t", prefixed: "t_"))
            FROM tokens t JOIN users u ON u.token_id = t.id
            WHERE u.id = ANY($1::text[]) ORDER BY t.id FOR UPDATE OF t
            """
        static var bindingDataTypes: [PostgresDataType] { [.textArray] }
        typealias Row = PostgresRandomAccessRow

        let users: [String]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            bindings.append(users)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> PostgresRandomAccessRow { row.makeRandomAccess() }
    }

    /// The tokens a batch changed, one array per column (`last_used_at` -1 for none).
    struct UpdateTokens: PostgresPreparedStatement {
        static let name = "ichigo_update_tokens"
        static let sql = """
            UPDATE tokens t SET last_step = v.last_step, failure_count = v.failure_count, drift_steps = v.drift_steps,
                state = v.state, last_used_at = NULLIF(v.last_used_at, -1), updated_at = v.updated_at
            FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::text[], $6::int8[], $7::int8[])
                AS v(id, last_step, failure_count, drift_steps, state, last_used_at, updated_at)
            WHERE t.id = v.id
            """
        static var bindingDataTypes: [PostgresDataType] {
            [.textArray, .int8Array, .int8Array, .int8Array, .textArray, .int8Array, .int8Array]
        }
        typealias Row = ()

        var ids: [String] = []
        var steps: [Int64] = []
        var failures: [Int64] = []
        var drifts: [Int64] = []
        var states: [String] = []
        var used: [Int64] = []
        var updated: [Int64] = []

        mutating func append(_ token: Token) {
            ids.append(token.id.rawValue)
            steps.append(token.lastAcceptedStep)
            failures.append(Int64(token.failureCount))
            drifts.append(Int64(token.driftSteps))
            states.append(token.state.rawValue)
            used.append(token.lastUsedAt?.millis ?? -1)
            updated.append(token.updatedAt.millis)
        }

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 7)
            bindings.append(ids)
            bindings.append(steps)
            bindings.append(failures)
            bindings.append(drifts)
            bindings.append(states)
            bindings.append(used)
            bindings.append(updated)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws {}
    }

    /// The audit chain's head, locked until the commit, and the hash of the record at `checking` (the sequence the
    /// instance's signed head file names; `NULL` when there is no file or no such record).
    struct LockAuditHead: PostgresPreparedStatement {
        static let name = "ichigo_lock_audit_head_checking"
        static let sql = """
            SELECT h.seq, h.hash, (SELECT a.hash FROM audit_log a WHERE a.seq = $1)
            FROM audit_chain_head h WHERE h.id = 1 FOR UPDATE OF h
            """
        typealias Row = (Int64, String, String?)

        var checking: Int64?

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            bindings.append(checking)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> (Int64, String, String?) {
            try row.decode((Int64, String, String?).self)
        }
    }

    /// Chained audit records, one array per column; a record without a reason has `false` in `hasReason` (text
    /// arrays hold no NULL here, and PostgreSQL text no NUL that could stand for one).
    struct AppendAudit: PostgresPreparedStatement {
        static let name = "ichigo_append_audit"
        static let sql = """
            INSERT INTO audit_log (seq, at, actor, action, subject, outcome, reason, prev_hash, hash, key_version)
            SELECT seq, at, actor, action, subject, outcome, CASE WHEN has_reason THEN reason END, prev_hash, hash,
                key_version
            FROM unnest($1::int8[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                $8::bool[], $9::text[], $10::text[], $11::int4[])
                AS r(seq, at, actor, action, subject, outcome, reason, has_reason, prev_hash, hash, key_version)
            """
        static var bindingDataTypes: [PostgresDataType] {
            [
                .int8Array, .int8Array, .textArray, .textArray, .textArray, .textArray, .textArray, .boolArray,
                .textArray, .textArray, .int4Array,
            ]
        }
        typealias Row = ()

        var sequences: [Int64] = []
        var times: [Int64] = []
        var actors: [String] = []
        var actions: [String] = []
        var subjects: [String] = []
        var outcomes: [String] = []
        var reasons: [String] = []
        var hasReason: [Bool] = []
        var previousHashes: [String] = []
        var hashes: [String] = []
        var keyVersions: [Int32] = []

        mutating func append(_ record: AuditRecord) {
            sequences.append(record.sequence)
            times.append(record.event.at.millis)
            actors.append(record.event.actor)
            actions.append(record.event.action)
            subjects.append(record.event.subject)
            outcomes.append(record.event.outcome)
            reasons.append(record.event.reason ?? "")
            hasReason.append(record.event.reason != nil)
            previousHashes.append(record.previousHash)
            hashes.append(record.hash)
            keyVersions.append(Int32(record.keyVersion))
        }

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 11)
            bindings.append(sequences)
            bindings.append(times)
            bindings.append(actors)
            bindings.append(actions)
            bindings.append(subjects)
            bindings.append(outcomes)
            bindings.append(reasons)
            bindings.append(hasReason)
            bindings.append(previousHashes)
            bindings.append(hashes)
            bindings.append(keyVersions)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws {}
    }

    /// Moves the audit chain's head on to the last record appended.
    struct MoveAuditHead: PostgresPreparedStatement {
        static let name = "ichigo_move_audit_head"
        static let sql = "UPDATE audit_chain_head SET seq = $1, hash = $2 WHERE id = 1"
        static var bindingDataTypes: [PostgresDataType] { [.int8, .text] }
        typealias Row = ()

        let sequence: Int64
        let hash: String

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 2)
            bindings.append(sequence)
            bindings.append(hash)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws {}
    }
}

extension HotStatements {
    /// `BEGIN`, prepared like the rest (not parsed again for every batch).
    struct Begin: PostgresPreparedStatement {
        static let name = "ichigo_begin"
        static let sql = "BEGIN"
        typealias Row = ()
        func makeBindings() throws -> PostgresBindings { PostgresBindings() }
        func decodeRow(_ row: PostgresRow) throws {}
    }

    /// `COMMIT`, prepared like the rest.
    struct Commit: PostgresPreparedStatement {
        static let name = "ichigo_commit"
        static let sql = "COMMIT"
        typealias Row = ()
        func makeBindings() throws -> PostgresBindings { PostgresBindings() }
        func decodeRow(_ row: PostgresRow) throws {}
    }
}
