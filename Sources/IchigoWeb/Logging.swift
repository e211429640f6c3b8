import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The request a log line belongs to: set by `RequestIDMiddleware` for the request's task, read by
/// `RequestLog.metadataProvider`, so every line logged while serving it — in the services too — names it.
public enum RequestLog {
    @TaskLocal public static var requestID: String?
    /// What inner middleware learns about the request for its access line (the API key's name).
    @TaskLocal static var notes: Notes?

    final class Notes: Sendable {
        private let storage = Mutex<String?>(nil)
        var apiKeyName: String? {
            get { storage.withLock { $0 } }
            set { storage.withLock { $0 = newValue } }
        }
    }

    /// Adds `request.id` to every log line written within a request.
    public static let metadataProvider = Logger.MetadataProvider {
        requestID.map { ["request.id": .string($0)] } ?? [:]
    }

    /// How log lines are written.
    public enum Format: String, Sendable, CaseIterable {
        /// `2026-11-23T10:00:00+0900 info ichigo : request.id=… message`, as swift-log's stream handler.
        case text
        /// One JSON object per line: `ts`, `level`, `label`, `message` and the metadata as strings.
        case json
    }

    /// Sets up swift-log once per process: `format` to standard error, with the request ID in every line.
    public static func bootstrap(format: Format) {
        LoggingSystem.bootstrap(
            { label, provider in
                switch format {
                case .text: StreamLogHandler.standardError(label: label, metadataProvider: provider)
                case .json: JSONLogHandler(label: label, metadataProvider: provider)
                }
            }, metadataProvider: metadataProvider)
    }
}

/// A log handler writing one JSON object per line to standard error (for log shippers). Metadata values are
/// written as strings; the keys `ts`, `level`, `label`, `message`, `source` are reserved.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let write: @Sendable (String) -> Void

    public init(
        label: String, metadataProvider: Logger.MetadataProvider? = nil,
        write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError
    ) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: String] = [:]
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        for (key, value) in merged { fields[key] = Self.flatten(value) }
        fields["ts"] = Self.timestamp()
        fields["level"] = event.level.rawValue
        fields["label"] = label
        fields["message"] = event.message.description
        fields["source"] = event.source
        guard let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        write(String(decoding: data, as: UTF8.self))
    }

    static func flatten(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array(let values): "[" + values.map(flatten).joined(separator: ",") + "]"
        case .dictionary(let dictionary):
            "{" + dictionary.sorted { $0.key < $1.key }.map { "\($0.key)=\(flatten($0.value))" }.joined(separator: ",") + "}"
        }
    }

    static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }

    private static let lock = Mutex(())

    /// Writes `line` and a newline to standard error in one call, so lines from many threads never interleave.
    public static let standardError: @Sendable (String) -> Void = { line in
        lock.withLock { _ in
            let bytes = Array((line + "\n").utf8)
            bytes.withUnsafeBufferPointer { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                    if written <= 0 { break }
                    offset += written
                }
            }
        }
    }
}
