import Configuration
import Foundation
import Ichigo

/// Where the audit trail is streamed (`audit.*` keys; `ICHIGO_AUDIT_*`).
///
/// - `audit.stream` (`ICHIGO_AUDIT_STREAM`): `syslog://host:port` (RFC 5424 over TCP, octet-counted frames, RFC 6587;
///   port 514 if none), `syslog+tls://host:port` (the same over TLS, RFC 5425; port 6514 if none), or `file:/path`
///   (JSON Lines, one record a line, synced). Unset: no stream.
/// - `audit.tls.caFile` (`ICHIGO_AUDIT_TLS_CA_FILE`): PEM file of the CA certificates the receiver's certificate
///   must chain to (else the system's); `audit.tls.certificateFile` and `audit.tls.keyFile` (PEM): a client
///   certificate, for receivers that require one.
/// - `audit.streamFacility` (`ICHIGO_AUDIT_STREAM_FACILITY`, default `authpriv`): the syslog facility.
/// - `audit.streamHostname` (`ICHIGO_AUDIT_STREAM_HOSTNAME`, default this machine's host name): syslog's HOSTNAME.
public struct AuditStreamSettings: Sendable, Equatable, CustomStringConvertible {
    public enum Destination: Sendable, Equatable, CustomStringConvertible {
        case syslog(host: String, port: Int, tls: Bool)
        case file(path: String)

        public var description: String {
            switch self {
            case .syslog(let host, let port, let tls):
                let shown = host.contains(":") ? "[\(host)]" : host
                return "\(tls ? "syslog+tls" : "syslog")://\(shown):\(port)"
            case .file(let path): return "file:\(path)"
            }
        }
    }

    public var destination: Destination
    public var facility: SyslogFacility
    public var hostname: String
    public var caFile: String?
    public var certificateFile: String?
    public var keyFile: String?

    public var description: String { destination.description }

    public init(
        destination: Destination, facility: SyslogFacility = .authpriv,
        hostname: String = ProcessInfo.processInfo.hostName, caFile: String? = nil, certificateFile: String? = nil,
        keyFile: String? = nil
    ) {
        self.destination = destination
        self.facility = facility
        self.hostname = hostname
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    /// Reads the `audit.stream*` keys; `nil` when `audit.stream` is not set.
    public init?(config: ConfigReader) throws {
        guard let text = config.string(forKey: "audit.stream"), !text.isEmpty else { return nil }
        let facilityName = config.string(forKey: "audit.streamFacility", default: "authpriv")
        guard let facility = SyslogFacility(name: facilityName) else {
            throw IchigoError(
                .invalidInput, field: "audit.streamFacility",
                detail: "\(facilityName) is not a syslog facility (authpriv, auth, local0 … local7, …)")
        }
        self.init(
            destination: try Self.destination(text), facility: facility,
            hostname: config.string(forKey: "audit.streamHostname", default: ProcessInfo.processInfo.hostName),
            caFile: config.string(forKey: "audit.tls.caFile"),
            certificateFile: config.string(forKey: "audit.tls.certificateFile"),
            keyFile: config.string(forKey: "audit.tls.keyFile"))
        guard (certificateFile == nil) == (keyFile == nil) else {
            throw IchigoError(
                .invalidInput, field: "audit.tls.certificateFile",
                detail: "a client certificate needs its key (audit.tls.keyFile), and a key its certificate")
        }
        if caFile != nil || certificateFile != nil, case .syslog(_, _, false) = destination {
            throw IchigoError(
                .invalidInput, field: "audit.stream", detail: "certificate files are for syslog+tls:// only")
        }
    }

    /// Parses `syslog://host:port`, `syslog+tls://host:port` or `file:/absolute/path`.
    public static func destination(_ text: String) throws -> Destination {
        func invalid(_ detail: String) -> IchigoError {
            IchigoError(.invalidInput, field: "audit.stream", detail: detail)
        }
        if text.hasPrefix("file:") {
            var path = String(text.dropFirst("file:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
            guard path.hasPrefix("/"), path.count > 1, !path.hasSuffix("/") else {
                throw invalid("file: takes an absolute path to a file, e.g. file:/var/log/ichigo/audit.jsonl")
            }
            return .file(path: path)
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            ["syslog", "syslog+tls"].contains(scheme)
        else {
            throw invalid("must be syslog://host:port, syslog+tls://host:port or file:/path, not \(text)")
        }
        var host = components.host ?? ""
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, components.path.isEmpty || components.path == "/", components.query == nil,
            components.user == nil, components.password == nil
        else { throw invalid("\(scheme):// takes a host and a port only, e.g. \(scheme)://siem.bank.example:6514") }
        let tls = scheme == "syslog+tls"
        let port = components.port ?? (tls ? 6514 : 514)
        guard (1...65535).contains(port) else { throw invalid("the port must be 1 to 65535") }
        return .syslog(host: host, port: port, tls: tls)
    }
}
