import Foundation
import Ichigo

#if canImport(Glibc)
    import Glibc
#endif

/// Syslog facilities (RFC 5424 §6.2.1), by the names syslog configurations use.
public enum SyslogFacility: Int, Sendable, CaseIterable {
    case kern = 0
    case user = 1
    case mail = 2
    case daemon = 3
    case auth = 4
    case syslog = 5
    case lpr = 6
    case news = 7
    case uucp = 8
    case cron = 9
    case authpriv = 10
    case ftp = 11
    case ntp = 12
    case security = 13
    case console = 14
    case solarisCron = 15
    case local0 = 16
    case local1 = 17
    case local2 = 18
    case local3 = 19
    case local4 = 20
    case local5 = 21
    case local6 = 22
    case local7 = 23

    /// The facility named `name` (`authpriv`, `local0`, …), if any.
    public init?(name: String) {
        let wanted = name.lowercased()
        guard let found = Self.allCases.first(where: { $0.name == wanted }) else { return nil }
        self = found
    }

    /// The name, as in syslog configurations.
    public var name: String { self == .solarisCron ? "solaris-cron" : "\(self)" }
}

/// One audit record as an RFC 5424 syslog message (RFC 5424 §6), framed for TCP by octet counting (RFC 6587 §3.4.1,
/// the framing RFC 5425 uses over TLS).
///
/// ```
/// <85>1 2026-05-01T01:02:03.456Z ib1.bank.example ichigo - otp.verify [ichigo@32473 seq="12" hash="…" prev="…"
///     at="2026-05-01T01:02:03.456Z" actor="api:gateway" action="otp.verify" subject="user:…" outcome="accepted"] BOM#12 …
/// ```
///
/// - PRI: the facility (default `authpriv`) with severity `warning` for a refusal, `notice` for everything else.
/// - TIMESTAMP: the event's time (not the time of sending), UTC, milliseconds — as the chain hashes it.
/// - PROCID `-` and no sending time anywhere: a record resent after a reconnect or a restart is the same frame, byte
///   for byte.
/// - MSGID: the action (`otp.verify`, `token.unlock`, …).
/// - STRUCTURED-DATA: one element `ichigo@32473` with every field of the record, values escaped (§6.3.3).
/// - MSG: a UTF-8 byte order mark, then one human-readable line (§6.4).
public struct SyslogAuditFormat: Sendable {
    /// The SD-ID of the element carrying the record (32473: the private enterprise number RFC 5612 reserves for
    /// examples and documentation).
    public static let structuredDataID = "ichigo@32473"
    public static let appName = "ichigo"

    public var facility: SyslogFacility
    /// HOSTNAME: printable US-ASCII only, at most 255 characters (§6.2.4); `-` if empty.
    public let hostname: String

    public init(facility: SyslogFacility = .authpriv, hostname: String) {
        self.facility = facility
        self.hostname = Self.headerField(hostname, maximum: 255)
    }

    /// RFC 5424 severities used here (§6.2.1).
    public enum Severity: Int, Sendable {
        case warning = 4
        case notice = 5
    }

    /// A refusal is a warning; everything else a notice.
    public static func severity(of event: AuditEvent) -> Severity {
        event.outcome == "refused" ? .warning : .notice
    }

    /// The SYSLOG-MSG (§6) for `record`, without framing.
    public func message(for record: AuditRecord) -> [UInt8] {
        let event = record.event
        let priority = facility.rawValue * 8 + Self.severity(of: event).rawValue
        let time = AuditTime.text(event.at)
        var parameters: [(String, String)] = [
            ("seq", String(record.sequence)), ("hash", record.hash), ("prev", record.previousHash), ("at", time),
            ("actor", event.actor), ("action", event.action), ("subject", event.subject), ("outcome", event.outcome),
        ]
        if let reason = event.reason { parameters.append(("reason", reason)) }
        var text =
            "<\(priority)>1 \(time) \(hostname) \(Self.appName) - \(Self.headerField(event.action, maximum: 32)) "
        text += "[\(Self.structuredDataID)"
        for (name, value) in parameters { text += " \(name)=\"\(Self.escapeParameterValue(value))\"" }
        text += "] "
        var bytes = Array(text.utf8)
        bytes += [0xEF, 0xBB, 0xBF]  // MSG-UTF8 starts with a BOM (§6.4).
        bytes += Array(Self.summary(of: record).utf8)
        return bytes
    }

    /// The message framed by octet counting (RFC 6587 §3.4.1): `MSG-LEN SP SYSLOG-MSG`, the length in bytes.
    public func frame(for record: AuditRecord) -> [UInt8] {
        let message = message(for: record)
        return Array("\(message.count) ".utf8) + message
    }

    /// A PARAM-VALUE with `"`, `\` and `]` escaped by a backslash (RFC 5424 §6.3.3); everything else as it is, UTF-8.
    public static func escapeParameterValue(_ value: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(value.utf8.count)
        for character in value.unicodeScalars {
            if character == "\"" || character == "\\" || character == "]" { escaped.unicodeScalars.append("\\") }
            escaped.unicodeScalars.append(character)
        }
        return escaped
    }

    /// A header field (HOSTNAME, MSGID): printable US-ASCII (33–126) only, others replaced by `_`, cut to `maximum`;
    /// `-` (NILVALUE) when empty.
    static func headerField(_ value: String, maximum: Int) -> String {
        let printable = String(
            String.UnicodeScalarView(
                value.unicodeScalars.prefix(maximum).map { (33...126).contains($0.value) ? $0 : "_" }))
        return printable.isEmpty ? "-" : printable
    }

    /// The human-readable line: `#12 otp.verify by api:gateway on user:…: refused (invalid_code)`.
    public static func summary(of record: AuditRecord) -> String {
        let event = record.event
        var line = "#\(record.sequence) \(event.action) by \(event.actor) on \(event.subject): \(event.outcome)"
        if let reason = event.reason { line += " (\(reason))" }
        return line
    }
}

/// One audit record as one line of JSON (JSON Lines): the fields in a fixed order, `seq` first.
///
/// `{"seq":12,"hash":"…","prev":"…","at":"2026-05-01T01:02:03.456Z","actor":"api","action":"otp.verify",
/// "subject":"user:…","outcome":"refused","reason":"invalid_code"}` (`reason` is `null` when there is none).
public enum AuditJSONLine {
    /// The line for `record`, with its newline.
    public static func line(for record: AuditRecord) -> String {
        let event = record.event
        let reason = event.reason.map(quoted) ?? "null"
        return """
            {"seq":\(record.sequence),"hash":\(quoted(record.hash)),"prev":\(quoted(record.previousHash)),\
            "at":\(quoted(AuditTime.text(event.at))),"actor":\(quoted(event.actor)),"action":\(quoted(event.action)),\
            "subject":\(quoted(event.subject)),"outcome":\(quoted(event.outcome)),"reason":\(reason)}

            """
    }

    /// The sequence number and hash of a line written by `line(for:)`; `nil` if it is not one.
    public static func position(of line: some StringProtocol) -> AuditStreamPosition? {
        guard let data = String(line).data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let sequence = (object["seq"] as? NSNumber)?.int64Value, sequence > 0,
            let hash = object["hash"] as? String, hash.count == 64
        else { return nil }
        return AuditStreamPosition(sequence: sequence, hash: hash)
    }

    /// A JSON string literal (RFC 8259 §7): quotes, backslashes and control characters escaped.
    static func quoted(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029:
                out += "\\u" + String(scalar.value, radix: 16).leftPadded(to: 4)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// Audit times as RFC 3339 text in UTC with milliseconds (`2026-05-01T01:02:03.456Z`): the precision the chain hashes.
enum AuditTime {
    static func text(_ date: Date) -> String {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let fraction = millis - seconds * 1000
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let milliseconds = String(fraction).leftPadded(to: 3)
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):"
            + "\(two(parts.tm_min)):\(two(parts.tm_sec)).\(milliseconds)Z"
    }
}
