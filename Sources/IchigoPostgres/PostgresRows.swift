import Foundation
import Ichigo
import NIOCore
import PostgresNIO

/// Reads one row's columns by name, turning a missing column or a value of the wrong type into `corruptData` that
/// names the column (never the value: it may be a sealed seed or a hash).
struct Columns {
    let row: PostgresRandomAccessRow
    /// Prefixed to every name (`t_` for a token's columns in a join).
    var prefix = ""

    init(_ row: PostgresRandomAccessRow, prefix: String = "") {
        self.row = row
        self.prefix = prefix
    }

    subscript<T: PostgresDecodable>(_ name: String) -> T {
        get throws {
            let column = prefix + name
            guard row.contains(column) else { throw IchigoError(.corruptData, detail: "no column \(column)") }
            do {
                return try row[column].decode(T.self)
            } catch {
                throw IchigoError(.corruptData, detail: "column \(column) is not a \(T.self)")
            }
        }
    }
}

/// PostgreSQL's rows as `StoredRow`s (a join's token columns through `Columns` with a prefix): every table's mapping
/// is the domain's (`Sources/Ichigo/Storage/StoredRows.swift`), shared with SQLite.
extension Columns: StoredRow {
    func optionalText(_ column: String) throws -> String? { try self[column] }
    func optionalInteger(_ column: String) throws -> Int64? { try self[column] }
    func optionalBytes(_ column: String) throws -> [UInt8]? {
        let buffer: ByteBuffer? = try self[column]
        return buffer.map { Array($0.readableBytesView) }
    }
    func optionalBool(_ column: String) throws -> Bool? { try self[column] }
}

extension PostgresRandomAccessRow: StoredRow {
    public func optionalText(_ column: String) throws -> String? { try Columns(self).optionalText(column) }
    public func optionalInteger(_ column: String) throws -> Int64? { try Columns(self).optionalInteger(column) }
    public func optionalBytes(_ column: String) throws -> [UInt8]? { try Columns(self).optionalBytes(column) }
    public func optionalBool(_ column: String) throws -> Bool? { try Columns(self).optionalBool(column) }
}
