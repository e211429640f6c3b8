import Crypto
import Foundation
import Synchronization

/// What an API key may do on the JSON API.
public enum APIScope: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// Everything: users, contracts, enrolment, token actions, accounts — and every other scope.
    case admin
    /// Check codes: `POST /users/{id}/verify` and `/users/{id}/token/activate` (a bank's login and payment systems).
    case verify
    /// Read users, tokens and accounts, change nothing (a help desk or a reporting system).
    case read
    /// Scrape `/metrics` (Prometheus).
    case metrics

    public static func < (lhs: APIScope, rhs: APIScope) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// A named key for the JSON API. Only the SHA-256 of the secret is stored: the secret is 32 random bytes, so
/// a fast hash is enough (nothing to guess), and a stolen database gives no usable key.
public struct APIKey: Sendable, Hashable {
    public var name: String
    /// Hex SHA-256 of the secret the caller presents.
    public var secretHash: String
    public var scopes: Set<APIScope>
    public var createdAt: Date
    public var revokedAt: Date?

    public init(name: String, secretHash: String, scopes: Set<APIScope>, createdAt: Date, revokedAt: Date? = nil) {
        self.name = name
        self.secretHash = secretHash
        self.scopes = scopes
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }

    /// Whether the key allows `scope` (`admin` allows every scope).
    public func allows(_ scope: APIScope) -> Bool { revokedAt == nil && (scopes.contains(.admin) || scopes.contains(scope)) }

    /// Names are what the audit trail shows: 1–40 of `a-z 0-9 . _ -`, starting with a letter or digit.
    public static func isValidName(_ name: String) -> Bool {
        guard (1...40).contains(name.utf8.count), let first = name.utf8.first,
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first)
        else { return false }
        return name.utf8.allSatisfy {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
        }
    }

    /// The stored form of a secret.
    public static func hash(secret: String) -> String {
        SHA256.hash(data: Array(secret.utf8)).hexString
    }
}

/// Where API keys are kept (with the rest of the data, so every instance on one database sees the same keys).
public protocol APIKeyRepository: Sendable {
    /// Stores a new key. Throws `apiKeyNameTaken` if a key (even a revoked one) has that name.
    func insert(_ key: APIKey, audit: AuditEvent) async throws
    /// The key whose secret hashes to `secretHash`, revoked or not.
    func apiKey(secretHash: String) async throws -> APIKey?
    /// Every key, by name.
    func apiKeys() async throws -> [APIKey]
    /// Revokes the key `name`. Returns false if there is no such key or it was already revoked.
    func revokeAPIKey(name: String, at now: Date, audit: AuditEvent) async throws -> Bool
}

/// Creates, lists, revokes and checks API keys.
///
/// Checking a presented key costs a SHA-256 and, at most every `cacheLifetime`, one read: keys are cached by
/// hash so verification traffic does not read the key table on every call. A revocation takes effect at once in
/// the instance that made it and within `cacheLifetime` in the others.
public final class APIKeyService: Sendable {
    let repository: any APIKeyRepository
    let cacheLifetime: TimeInterval
    private let cache = Mutex<[String: (key: APIKey?, fetched: Date)]>([:])

    public init(repository: any APIKeyRepository, cacheLifetime: TimeInterval = 5) {
        self.repository = repository
        self.cacheLifetime = cacheLifetime
    }

    /// Creates a key with `scopes` and returns its secret — shown once, never stored.
    public func create(name: String, scopes: Set<APIScope>, actor: String, at now: Date) async throws
        -> (key: APIKey, secret: String)
    {
        let secret = "ichigo_" + RandomText.base64URL(byteCount: 32)
        let key = try await store(name: name, secret: secret, scopes: scopes, actor: actor, at: now)
        return (key, secret)
    }

    /// Stores an existing secret (the generated `data/api.key` or `ICHIGO_API_KEY`) as the key `name` with
    /// `scopes`, unless a key of that name exists already — also a revoked one: a revoked key never comes back.
    /// - Returns: whether the key was stored now.
    @discardableResult
    public func adopt(secret: String, name: String, scopes: Set<APIScope>, at now: Date) async throws -> Bool {
        if try await repository.apiKeys().contains(where: { $0.name == name }) { return false }
        do {
            _ = try await store(name: name, secret: secret, scopes: scopes, actor: "system", at: now)
            return true
        } catch let error as IchigoError where error.code == .apiKeyNameTaken {
            return false  // another instance adopted it first
        }
    }

    private func store(name: String, secret: String, scopes: Set<APIScope>, actor: String, at now: Date) async throws
        -> APIKey
    {
        guard APIKey.isValidName(name) else {
            throw IchigoError(.invalidInput, field: "name", detail: "1-40 of a-z 0-9 . _ -, starting with a letter or digit")
        }
        guard !scopes.isEmpty else { throw IchigoError(.invalidInput, field: "scope", detail: "at least one scope") }
        guard secret.utf8.count >= 16 else { throw IchigoError(.invalidInput, field: "secret", detail: "too short") }
        let key = APIKey(name: name, secretHash: APIKey.hash(secret: secret), scopes: scopes, createdAt: now)
        try await repository.insert(
            key,
            audit: AuditEvent(
                at: now, actor: actor, action: "apikey.create", subject: "apikey:\(name)", outcome: "ok",
                reason: "scopes=" + scopes.sorted().map(\.rawValue).joined(separator: ",")))
        cache.withLock { $0.removeAll() }
        return key
    }

    /// Every key, by name.
    public func list() async throws -> [APIKey] { try await repository.apiKeys() }

    /// Revokes `name`. Throws `notFound` if there is no such active key.
    public func revoke(name: String, actor: String, at now: Date) async throws {
        let revoked = try await repository.revokeAPIKey(
            name: name, at: now,
            audit: AuditEvent(at: now, actor: actor, action: "apikey.revoke", subject: "apikey:\(name)", outcome: "ok"))
        cache.withLock { $0.removeAll() }
        guard revoked else { throw IchigoError(.notFound, detail: "no active API key named \(name)") }
    }

    /// The active key whose secret is `secret`, if any.
    public func authenticate(secret: String, at now: Date) async throws -> APIKey? {
        guard !secret.isEmpty, secret.utf8.count <= 256 else { return nil }
        let hash = APIKey.hash(secret: secret)
        if let cached = cache.withLock({ $0[hash] }), now.timeIntervalSince(cached.fetched) < cacheLifetime,
            now >= cached.fetched
        {
            return cached.key.flatMap { $0.revokedAt == nil ? $0 : nil }
        }
        let key = try await repository.apiKey(secretHash: hash)
        cache.withLock { cache in
            if cache.count > 10_000 { cache.removeAll() }  // unknown secrets must not grow it without bound
            cache[hash] = (key, now)
        }
        return key.flatMap { $0.revokedAt == nil ? $0 : nil }
    }
}

extension RandomText {
    /// `byteCount` random bytes as unpadded base64url.
    static func base64URL(byteCount: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<byteCount).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
