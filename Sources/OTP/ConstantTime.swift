/// Comparisons whose running time does not depend on where two secrets differ.
enum ConstantTime {
    /// Whether `lhs` and `rhs` hold the same bytes. Only the lengths may leak (they are not secret here: a code's
    /// length is fixed by its policy or suite).
    static func isEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices {
            difference |= lhs[index] ^ rhs[index]
        }
        return difference == 0
    }
}
