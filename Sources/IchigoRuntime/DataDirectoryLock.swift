import Foundation

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(CoreFoundation)
    // `stat` is also declared through CoreFoundation's headers, which the WebAuthn target's dependencies bring in.
    import CoreFoundation
#endif

/// `ichigo.lock` in the data directory: every command that opens the database (`serve` and the others, through
/// `Runtime`; `backup`) holds it shared for as long as it runs; `restore` takes it exclusively, so it replaces the
/// database only when nothing has it open, and nothing opens it while the replacement is under way. An advisory
/// `flock`, released by the kernel when the process ends, however it ends. The file holds the PID of the last process
/// that took it, for people; the lock is what counts.
package struct DataDirectoryLock {
    package let path: String
    private let descriptor: Int32

    private init(path: String, exclusive: Bool) throws {
        self.path = path
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw CommandFailure("cannot open \(path)") }
        guard flock(descriptor, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0 else {
            let holders = Self.holders(of: path)
            close(descriptor)
            if exclusive {
                throw CommandFailure(
                    "the data directory is in use (\(holders.isEmpty ? "see \(path)" : holders.joined(separator: "; "))): stop the server and any other ichigo command on it first"
                )
            }
            throw CommandFailure(
                "a restore is replacing the database in this data directory (\(holders.joined(separator: "; "))): wait until it has finished"
            )
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(descriptor, 0)
        _ = pwrite(descriptor, pid, pid.utf8.count, 0)
    }

    /// Held by every process that uses the data directory.
    package static func shared(_ directory: DataDirectory) throws -> DataDirectoryLock {
        try DataDirectoryLock(path: directory.url.appendingPathComponent("ichigo.lock").path, exclusive: false)
    }

    /// Held by `restore` alone.
    package static func exclusive(_ directory: DataDirectory) throws -> DataDirectoryLock {
        try DataDirectoryLock(path: directory.url.appendingPathComponent("ichigo.lock").path, exclusive: true)
    }

    /// The processes holding a lock on the file, from `/proc/locks` (Linux): `pid 1234 (ichigo serve)`.
    private static func holders(of path: String) -> [String] {
        guard let inodeNumber = (try? FileManager.default.attributesOfItem(atPath: path))?[.systemFileNumber] as? NSNumber,
            let text = try? String(contentsOfFile: "/proc/locks", encoding: .utf8)
        else { return [] }
        var found: [String] = []
        for line in text.split(separator: "\n") {
            // `1: FLOCK  ADVISORY  READ  1234 08:02:5678 0 EOF`
            let fields = line.split(separator: " ")
            guard fields.count >= 6, fields[1] == "FLOCK", let pid = Int32(fields[4]), pid != getpid(),
                let inode = fields[5].split(separator: ":").last, UInt64(inode) == inodeNumber.uint64Value
            else { continue }
            let command = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")))
                .map { data in
                    data.split(separator: 0).prefix(3).map { String(decoding: $0, as: UTF8.self) }
                        .map { ($0 as NSString).lastPathComponent }.joined(separator: " ")
                }
            found.append("pid \(pid)" + (command.map { " (\($0))" } ?? ""))
        }
        return found
    }
}

/// A command that cannot go on, with the reason: printed as `Error: <reason>` without the usage text (which
/// `ValidationError` adds, for mistakes in the arguments); exit status 1.
package struct CommandFailure: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}
