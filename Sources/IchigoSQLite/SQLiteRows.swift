import Foundation
import GRDB
import Ichigo

/// GRDB's rows as `StoredRow`s: every table's mapping is the domain's (`Sources/Ichigo/Storage/StoredRows.swift`),
/// shared with PostgreSQL. A missing column or a value of another kind is `storage.corrupt`, never a crash.
extension Row: StoredRow {
    private func stored(_ column: String) throws -> DatabaseValue {
        guard hasColumn(column) else { throw IchigoError(.corruptData, detail: "no column \(column)") }
        return self[column]
    }

    public func optionalText(_ column: String) throws -> String? {
        switch try stored(column).storage {
        case .null: return nil
        case .string(let text): return text
        default: throw IchigoError(.corruptData, detail: "column \(column) is not text")
        }
    }

    public func optionalInteger(_ column: String) throws -> Int64? {
        switch try stored(column).storage {
        case .null: return nil
        case .int64(let value): return value
        default: throw IchigoError(.corruptData, detail: "column \(column) is not an integer")
        }
    }

    public func optionalBytes(_ column: String) throws -> [UInt8]? {
        switch try stored(column).storage {
        case .null: return nil
        case .blob(let data): return Array(data)
        default: throw IchigoError(.corruptData, detail: "column \(column) is not bytes")
        }
    }

    public func optionalBool(_ column: String) throws -> Bool? {
        switch try stored(column).storage {
        case .null: return nil
        case .int64(let value): return value != 0
        default: throw IchigoError(.corruptData, detail: "column \(column) is not a truth value")
        }
    }
}
