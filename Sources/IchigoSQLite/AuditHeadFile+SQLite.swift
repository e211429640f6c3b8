import GRDB
import Ichigo
import IchigoFiles

extension AuditHeadFile {
    /// Inside the write transaction, before commit: checks the stored head against the database (`confirm`) and
    /// returns where the head goes once the commit is durable (`nil`: nothing to advance). The head is signed when it
    /// is written (`advance`), once per sync rather than once per commit.
    func next(in db: Database) throws -> Position? {
        guard problem == nil else { return nil }
        guard
            let last = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"))
        else { return nil }
        let sequence: Int64 = last["seq"]
        if let current = stored() {
            let hash = try String.fetchOne(
                db.cachedStatement(sql: "SELECT hash FROM audit_log WHERE seq = ?"), arguments: [current.head.sequence])
            guard confirm(current, hashInDatabase: hash) else { return nil }
            guard sequence > current.head.sequence else { return nil }
        }
        return Position(sequence: sequence, hash: last["hash"])
    }
}
