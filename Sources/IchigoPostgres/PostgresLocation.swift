import Foundation
import Ichigo
import NIOSSL
import PostgresNIO

/// Where and how to connect to PostgreSQL, read from a `postgres://` (or `postgresql://`) URL in libpq's form:
///
/// `postgres://user:password@host:port/database?sslmode=prefer`
///
/// - `user` is required; the password may be left out (trust or peer authentication). Both are percent-decoded.
/// - `port` defaults to 5432, `database` to the user name.
/// - `sslmode` (as libpq): `disable`; `prefer` (the default: TLS when the server offers it, certificate not checked);
///   `require` (TLS, certificate not checked); `verify-ca` (TLS, certificate checked against the trust roots, host name
///   not); `verify-full` (certificate and host name checked). `sslrootcert=PATH` names a PEM file of trust roots for
///   the two `verify-` modes (default: the system's).
/// - `host=/directory` in the query connects through the Unix socket `/directory/.s.PGSQL.<port>` instead of TCP.
public struct PostgresLocation: Sendable {
    /// The client configuration the URL describes.
    public var configuration: PostgresClient.Configuration
    /// The URL without its password, for logs and messages.
    public let redacted: String

    /// Whether `text` names a PostgreSQL database (rather than a SQLite file).
    public static func isPostgresURL(_ text: String) -> Bool {
        let lowered = text.lowercased()
        return lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://")
    }

    /// Reads `url`; throws `invalidInput` (field `database`) naming what is wrong, never echoing the password.
    public init(url text: String) throws {
        func invalid(_ why: String) -> IchigoError { IchigoError(.invalidInput, field: "database", detail: why) }
        guard Self.isPostgresURL(text), let components = URLComponents(string: text) else {
            throw invalid("not a postgres:// URL")
        }
        guard let user = components.user, !user.isEmpty else { throw invalid("the URL names no user") }
        let password = components.password
        let port = components.port ?? 5432
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let database = path.isEmpty ? user : path
        guard !database.contains("/") else { throw invalid("the database name contains /") }
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] { query[item.name] = item.value ?? "" }
        let known: Set<String> = ["sslmode", "sslrootcert", "host"]
        if let unknown = query.keys.sorted().first(where: { !known.contains($0) }) {
            throw invalid("unknown URL parameter \(unknown)")
        }

        if let socketDirectory = query["host"], socketDirectory.hasPrefix("/") {
            configuration = PostgresClient.Configuration(
                unixSocketPath: socketDirectory + "/.s.PGSQL.\(port)", username: user, password: password,
                database: database)
        } else {
            guard let host = components.host, !host.isEmpty else { throw invalid("the URL names no host") }
            var tls = TLSConfiguration.makeClientConfiguration()
            if let roots = query["sslrootcert"] { tls.trustRoots = .file(roots) }
            let mode: PostgresClient.Configuration.TLS
            switch query["sslmode"] ?? "prefer" {
            case "disable":
                mode = .disable
            case "prefer":
                tls.certificateVerification = .none
                mode = .prefer(tls)
            case "require":
                tls.certificateVerification = .none
                mode = .require(tls)
            case "verify-ca":
                tls.certificateVerification = .noHostnameVerification
                mode = .require(tls)
            case "verify-full":
                tls.certificateVerification = .fullVerification
                mode = .require(tls)
            case let other:
                throw invalid("sslmode \(other) is not disable, prefer, require, verify-ca or verify-full")
            }
            configuration = PostgresClient.Configuration(
                host: host, port: port, username: user, password: password, database: database, tls: mode)
        }
        var shown = components
        if shown.password != nil { shown.password = "***" }
        redacted = shown.string ?? "postgres://…"
    }
}
