import CPKCS11
import Foundation
import Synchronization

/// A PKCS #11 failure: the function that failed and its `CKR_…` code, never a PIN or key material.
public struct PKCS11Error: Error, Sendable, CustomStringConvertible {
    public let function: String
    public let code: UInt
    public let detail: String?

    public init(function: String, code: UInt, detail: String?) {
        self.function = function
        self.code = code
        self.detail = detail
    }

    public var description: String {
        let name = PKCS11Error.names[code].map { " \($0)" } ?? ""
        return "PKCS #11 \(function) failed: 0x\(String(code, radix: 16))\(name)" + (detail.map { " (\($0))" } ?? "")
    }

    static let names: [UInt: String] = [
        0x05: "CKR_GENERAL_ERROR", 0x06: "CKR_FUNCTION_FAILED", 0x07: "CKR_ARGUMENTS_BAD", 0x30: "CKR_DEVICE_ERROR",
        0x32: "CKR_DEVICE_REMOVED", 0x40: "CKR_ENCRYPTED_DATA_INVALID", 0x60: "CKR_KEY_HANDLE_INVALID",
        0x68: "CKR_KEY_FUNCTION_NOT_PERMITTED", 0x6A: "CKR_KEY_UNEXTRACTABLE", 0x70: "CKR_MECHANISM_INVALID",
        0xA0: "CKR_PIN_INCORRECT", 0xA4: "CKR_PIN_LOCKED", 0xB3: "CKR_SESSION_HANDLE_INVALID",
        0xE0: "CKR_TOKEN_NOT_PRESENT", 0x101: "CKR_USER_NOT_LOGGED_IN", 0x110: "CKR_WRAPPED_KEY_INVALID",
        0x190: "CKR_CRYPTOKI_NOT_INITIALIZED",
    ]
}

/// A non-extractable AES-256 key-encryption key (KEK) in a hardware security module, reached through the vendor's
/// PKCS #11 module (loaded with `dlopen`). Ichigo's data keys are wrapped and unwrapped by it (RFC 5649 AES key wrap
/// with padding, `CKM_AES_KEY_WRAP_PAD`), so the KEK never leaves the HSM and a verification never calls it: data keys
/// are unwrapped once, at start or after a rotation (envelope encryption).
///
/// Refuses to open a KEK that the HSM says is extractable or not sensitive: no weaker key is ever used in its place.
public final class PKCS11KeyEncryptionKey: @unchecked Sendable {
    // The module's functions are thread-safe (initialised with CKF_OS_LOCKING_OK); one session is shared under `lock`
    // because wrap and unwrap run rarely (start, rotation).
    private let library: UnsafeMutableRawPointer
    private let functions: UnsafeMutablePointer<CK_FUNCTION_LIST>
    private let session: CK_SESSION_HANDLE
    private let key: CK_OBJECT_HANDLE
    private let lock = Mutex(())
    /// The token and key, for messages.
    public let tokenLabel: String
    public let keyLabel: String

    /// Opens the KEK `keyLabel` on the token `tokenLabel` of the PKCS #11 module at `modulePath`, logging in with `pin`.
    public init(modulePath: String, tokenLabel: String, keyLabel: String, pin: String) throws {
        guard let library = dlopen(modulePath, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown"
            throw PKCS11Error(function: "dlopen", code: 0, detail: "cannot load \(modulePath): \(reason)")
        }
        guard let symbol = dlsym(library, "C_GetFunctionList") else {
            dlclose(library)
            throw PKCS11Error(function: "dlsym", code: 0, detail: "\(modulePath) has no C_GetFunctionList")
        }
        var list: UnsafeMutablePointer<CK_FUNCTION_LIST>?
        var rv = ichigo_get_function_list(symbol, &list)
        guard rv == CKR_OK, let functions = list else {
            dlclose(library)
            throw PKCS11Error(function: "C_GetFunctionList", code: UInt(rv), detail: nil)
        }
        var arguments = CK_C_INITIALIZE_ARGS()
        arguments.flags = CK_FLAGS(CKF_OS_LOCKING_OK)
        rv = withUnsafeMutablePointer(to: &arguments) { functions.pointee.C_Initialize($0) }
        guard rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED else {
            dlclose(library)
            throw PKCS11Error(function: "C_Initialize", code: UInt(rv), detail: nil)
        }
        // Everything is found before any stored property is set, so a failure never runs `deinit`.
        let session: CK_SESSION_HANDLE
        let key: CK_OBJECT_HANDLE
        do {
            let slot = try Self.slot(labelled: tokenLabel, functions)
            var opened: CK_SESSION_HANDLE = 0
            try Self.check(
                "C_OpenSession",
                functions.pointee.C_OpenSession(
                    slot, CK_FLAGS(CKF_SERIAL_SESSION | CKF_RW_SESSION), nil, nil, &opened))
            session = opened
            var pinBytes = Array(pin.utf8)
            let login = functions.pointee.C_Login(session, CK_USER_TYPE(CKU_USER), &pinBytes, CK_ULONG(pinBytes.count))
            for index in pinBytes.indices { pinBytes[index] = 0 }
            guard login == CKR_OK || login == CKR_USER_ALREADY_LOGGED_IN else {
                throw PKCS11Error(function: "C_Login", code: UInt(login), detail: "token \(tokenLabel)")
            }
            key = try Self.secretKey(labelled: keyLabel, session, functions)
            // The KEK must be sensitive and never extractable: a key the HSM would hand out is no HSM key.
            let sensitive = try Self.bool(CK_ATTRIBUTE_TYPE(CKA_SENSITIVE), of: key, session, functions)
            let extractable = try Self.bool(CK_ATTRIBUTE_TYPE(CKA_EXTRACTABLE), of: key, session, functions)
            guard sensitive, !extractable else {
                throw PKCS11Error(
                    function: "C_GetAttributeValue", code: 0,
                    detail: "key \(keyLabel) is extractable or not sensitive: refused")
            }
        } catch {
            _ = functions.pointee.C_Finalize(nil)
            dlclose(library)
            throw error
        }
        self.library = library
        self.functions = functions
        self.session = session
        self.key = key
        self.tokenLabel = tokenLabel
        self.keyLabel = keyLabel
    }

    deinit {
        _ = functions.pointee.C_CloseSession(session)
        _ = functions.pointee.C_Finalize(nil)
        dlclose(library)
    }

    /// Wraps `dataKey` (any length from 1 byte; a generic secret in the HSM) under the KEK: the bytes to store.
    public func wrap(_ dataKey: [UInt8]) throws -> [UInt8] {
        try lock.withLock { _ in
            // The data key enters the HSM as a session object only to be wrapped, and is destroyed at once.
            var value = dataKey
            defer { for index in value.indices { value[index] = 0 } }
            var objectClass = CK_OBJECT_CLASS(CKO_SECRET_KEY)
            var keyType = CK_KEY_TYPE(CKK_GENERIC_SECRET)
            var no = CK_BBOOL(CK_FALSE)
            var yes = CK_BBOOL(CK_TRUE)
            var object: CK_OBJECT_HANDLE = 0
            try withUnsafeMutableBytes(of: &objectClass) { classBytes in
                try withUnsafeMutableBytes(of: &keyType) { typeBytes in
                    try withUnsafeMutableBytes(of: &no) { noBytes in
                        try withUnsafeMutableBytes(of: &yes) { yesBytes in
                            try value.withUnsafeMutableBytes { valueBytes in
                                var template = [
                                    Self.attribute(CKA_CLASS, classBytes), Self.attribute(CKA_KEY_TYPE, typeBytes),
                                    Self.attribute(CKA_TOKEN, noBytes), Self.attribute(CKA_EXTRACTABLE, yesBytes),
                                    Self.attribute(CKA_SENSITIVE, noBytes), Self.attribute(CKA_VALUE, valueBytes),
                                ]
                                try Self.check(
                                    "C_CreateObject",
                                    functions.pointee.C_CreateObject(
                                        session, &template, CK_ULONG(template.count), &object))
                            }
                        }
                    }
                }
            }
            defer { _ = functions.pointee.C_DestroyObject(session, object) }
            var mechanism = CK_MECHANISM(mechanism: CK_MECHANISM_TYPE(CKM_AES_KEY_WRAP_PAD), pParameter: nil, ulParameterLen: 0)
            var length: CK_ULONG = 0
            try Self.check("C_WrapKey", functions.pointee.C_WrapKey(session, &mechanism, key, object, nil, &length))
            var wrapped = [UInt8](repeating: 0, count: Int(length))
            try Self.check(
                "C_WrapKey", functions.pointee.C_WrapKey(session, &mechanism, key, object, &wrapped, &length))
            return Array(wrapped.prefix(Int(length)))
        }
    }

    /// Unwraps `wrapped` (from `wrap`) under the KEK: the data key's bytes.
    public func unwrap(_ wrapped: [UInt8]) throws -> [UInt8] {
        try lock.withLock { _ in
            var objectClass = CK_OBJECT_CLASS(CKO_SECRET_KEY)
            var keyType = CK_KEY_TYPE(CKK_GENERIC_SECRET)
            var no = CK_BBOOL(CK_FALSE)
            var yes = CK_BBOOL(CK_TRUE)
            var object: CK_OBJECT_HANDLE = 0
            var blob = wrapped
            var mechanism = CK_MECHANISM(mechanism: CK_MECHANISM_TYPE(CKM_AES_KEY_WRAP_PAD), pParameter: nil, ulParameterLen: 0)
            try withUnsafeMutableBytes(of: &objectClass) { classBytes in
                try withUnsafeMutableBytes(of: &keyType) { typeBytes in
                    try withUnsafeMutableBytes(of: &no) { noBytes in
                        try withUnsafeMutableBytes(of: &yes) { yesBytes in
                            var template = [
                                Self.attribute(CKA_CLASS, classBytes), Self.attribute(CKA_KEY_TYPE, typeBytes),
                                Self.attribute(CKA_TOKEN, noBytes), Self.attribute(CKA_EXTRACTABLE, yesBytes),
                                Self.attribute(CKA_SENSITIVE, noBytes),
                            ]
                            try Self.check(
                                "C_UnwrapKey",
                                functions.pointee.C_UnwrapKey(
                                    session, &mechanism, key, &blob, CK_ULONG(blob.count), &template,
                                    CK_ULONG(template.count), &object))
                        }
                    }
                }
            }
            defer { _ = functions.pointee.C_DestroyObject(session, object) }
            return try Self.value(of: object, session, functions)
        }
    }

    // MARK: Helpers

    static func check(_ function: String, _ rv: CK_RV) throws {
        guard rv == CKR_OK else { throw PKCS11Error(function: function, code: UInt(rv), detail: nil) }
    }

    static func attribute(_ type: some BinaryInteger, _ bytes: UnsafeMutableRawBufferPointer) -> CK_ATTRIBUTE {
        CK_ATTRIBUTE(type: CK_ATTRIBUTE_TYPE(type), pValue: bytes.baseAddress, ulValueLen: CK_ULONG(bytes.count))
    }

    /// The slot whose token has `label` (PKCS #11 pads labels with spaces to 32 bytes).
    static func slot(labelled label: String, _ functions: UnsafeMutablePointer<CK_FUNCTION_LIST>) throws -> CK_SLOT_ID {
        var count: CK_ULONG = 0
        try check("C_GetSlotList", functions.pointee.C_GetSlotList(CK_BBOOL(CK_TRUE), nil, &count))
        var slots = [CK_SLOT_ID](repeating: 0, count: Int(count))
        try check("C_GetSlotList", functions.pointee.C_GetSlotList(CK_BBOOL(CK_TRUE), &slots, &count))
        for slot in slots.prefix(Int(count)) {
            var info = CK_TOKEN_INFO()
            guard functions.pointee.C_GetTokenInfo(slot, &info) == CKR_OK else { continue }
            let raw = withUnsafeBytes(of: &info.label) { Array($0) }
            let text = String(decoding: raw, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            if text == label { return slot }
        }
        throw PKCS11Error(function: "C_GetTokenInfo", code: 0xE0, detail: "no token labelled \(label)")
    }

    /// The one secret key labelled `label`.
    static func secretKey(
        labelled label: String, _ session: CK_SESSION_HANDLE, _ functions: UnsafeMutablePointer<CK_FUNCTION_LIST>
    ) throws -> CK_OBJECT_HANDLE {
        var objectClass = CK_OBJECT_CLASS(CKO_SECRET_KEY)
        var labelBytes = Array(label.utf8)
        var found = [CK_OBJECT_HANDLE](repeating: 0, count: 2)
        var count: CK_ULONG = 0
        try withUnsafeMutableBytes(of: &objectClass) { classBytes in
            try labelBytes.withUnsafeMutableBytes { labelBuffer in
                var template = [attribute(CKA_CLASS, classBytes), attribute(CKA_LABEL, labelBuffer)]
                try check(
                    "C_FindObjectsInit", functions.pointee.C_FindObjectsInit(session, &template, CK_ULONG(template.count)))
            }
        }
        let rv = functions.pointee.C_FindObjects(session, &found, 2, &count)
        _ = functions.pointee.C_FindObjectsFinal(session)
        try check("C_FindObjects", rv)
        guard count == 1 else {
            throw PKCS11Error(
                function: "C_FindObjects", code: 0x60,
                detail: count == 0 ? "no secret key labelled \(label)" : "more than one secret key labelled \(label)")
        }
        return found[0]
    }

    static func bool(
        _ type: CK_ATTRIBUTE_TYPE, of object: CK_OBJECT_HANDLE, _ session: CK_SESSION_HANDLE,
        _ functions: UnsafeMutablePointer<CK_FUNCTION_LIST>
    ) throws -> Bool {
        var value = CK_BBOOL(CK_FALSE)
        try withUnsafeMutableBytes(of: &value) { bytes in
            var template = [attribute(type, bytes)]
            try check("C_GetAttributeValue", functions.pointee.C_GetAttributeValue(session, object, &template, 1))
        }
        return value == CK_BBOOL(CK_TRUE)
    }

    static func value(
        of object: CK_OBJECT_HANDLE, _ session: CK_SESSION_HANDLE,
        _ functions: UnsafeMutablePointer<CK_FUNCTION_LIST>
    ) throws -> [UInt8] {
        var template = [CK_ATTRIBUTE(type: CK_ATTRIBUTE_TYPE(CKA_VALUE), pValue: nil, ulValueLen: 0)]
        try check("C_GetAttributeValue", functions.pointee.C_GetAttributeValue(session, object, &template, 1))
        var bytes = [UInt8](repeating: 0, count: Int(template[0].ulValueLen))
        try bytes.withUnsafeMutableBytes { buffer in
            template[0].pValue = buffer.baseAddress
            try check("C_GetAttributeValue", functions.pointee.C_GetAttributeValue(session, object, &template, 1))
        }
        return bytes
    }
}
