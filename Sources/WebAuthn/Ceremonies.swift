// The two ceremonies of W3C WebAuthn Level 3, each checked step by step in its own file:
// - registration, §7.1: `verifyRegistration(_:expecting:)` in Registration.swift;
// - authentication, §7.2: `verifyAuthentication(_:expecting:)` in Authentication.swift.
//
// Step numbers follow the W3C editor's draft of Level 3 (w3c/webauthn index.bs, 2025), which counts the crossOrigin
// check as its own step (§7.1 step 10, §7.2 step 13): §7.1 steps 7–29 and §7.2 steps 10–24. Every refusal is a
// `WebAuthnError` whose detail starts with the step that refused.

/// Runs `body`, prefixing the detail of any error it throws with `step` ("§7.1 step 13: …").
func within<T>(_ step: String, _ body: () throws(WebAuthnError) -> T) throws(WebAuthnError) -> T {
    do {
        return try body()
    } catch {
        throw WebAuthnError(error.code, "\(step): \(error.detail)")
    }
}
