import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Ichigo
import IchigoSQLite
import IchigoWeb
import Testing

/// The OpenAPI document and the router describe the same JSON API: every route the server answers under
/// `/api`, `/app` and the operations endpoints is in the document with its method, and nothing else is.
@Suite("OpenAPI document")
struct OpenAPITests {
    static func documentedOperations() throws -> Set<String> {
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(try OpenAPIDocument.load())) as? [String: Any])
        #expect(document["openapi"] as? String == "3.1.0")
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var operations = Set<String>()
        for (path, item) in paths {
            for method in item.keys where ["get", "post", "put", "patch", "delete"].contains(method) {
                operations.insert("\(method.uppercased()) \(path)")
            }
        }
        return operations
    }

    @Test func everyJSONRouteIsDocumentedAndEveryDocumentedRouteExists() async throws {
        let harness = try APIHarness()
        let router = try await buildRouter(services: harness.services, metrics: harness.metrics)
        let served = Set(
            router.routes.map { "\($0.method) \($0.path)" }
                .map { $0.replacingOccurrences(of: "//", with: "/") }
                .filter { route in
                    let path = String(route.split(separator: " ", maxSplits: 1)[1])
                    return path.hasPrefix("/api/") || path.hasPrefix("/app/")
                        || ["/health", "/ready", "/metrics", "/openapi.json"].contains(path)
                })
        let documented = try Self.documentedOperations()
        #expect(served.subtracting(documented).isEmpty, "served but not documented: \(served.subtracting(documented).sorted())")
        #expect(documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served).sorted())")
        #expect(served.count >= 19)
        try harness.repository.close()
    }

    @Test func theServerServesTheDocument() async throws {
        let harness = try APIHarness()
        try await harness.test { api in
            let reply = try await api.call(.get, "/openapi.json", key: nil)
            #expect(reply.status == .ok)
            #expect(reply.json["openapi"] as? String == "3.1.0")
            #expect(Array(reply.body.readableBytesView) == (try OpenAPIDocument.load()))
        }
    }

    /// The document's e-mail pattern and the server's rule (`CredentialRules.isValidEmail`) accept the same
    /// addresses: an address the document allows is never refused, and one it forbids is never taken.
    @Test func theEmailPatternIsTheServersRule() throws {
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(try OpenAPIDocument.load())) as? [String: Any])
        let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: Any])
        var patterns: Set<String> = []
        for name in ["NewCustomer", "NewContractUser"] {
            let properties = try #require((schemas[name] as? [String: Any])?["properties"] as? [String: Any])
            let email = try #require(properties["email"] as? [String: Any])
            patterns.insert(try #require(email["pattern"] as? String))
            #expect(email["maxLength"] as? Int == 254)
        }
        #expect(patterns.count == 1)
        let pattern = try Regex(try #require(patterns.first))
        let fixed = [
            "a@b.jp", "taro.yamada@example.co.jp", "x+tag@mail-1.example.com", "a@b", "a@-b.jp", "a@b-.jp", "@b.jp",
            "a b@c.jp", "a@b..jp", "a@.b.jp", "a@@b.jp", String(repeating: "x", count: 64) + "@b.jp",
            String(repeating: "x", count: 65) + "@b.jp", "a@" + String(repeating: "b", count: 63) + ".jp",
            "a@" + String(repeating: "b", count: 64) + ".jp", "山田@b.jp", "a@例え.jp", "a@b.jp\n", "a\t@b.jp",
        ]
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ab9.-_@+ 山!")
        let random = (0..<3000).map { _ in
            String((0..<Int.random(in: 0...12, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
        }
        for text in fixed + random {
            let documented = text.utf8.count <= 254 && (try? pattern.wholeMatch(in: text)) != nil
            #expect(documented == CredentialRules.isValidEmail(text), "\(text.debugDescription)")
        }
    }
}
