// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "ichigo",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ichigo", targets: ["ichigo"]),
        .executable(name: "ichigo-token", targets: ["ichigo-token"]),
        .library(name: "OTP", targets: ["OTP"]),
        .library(name: "Ichigo", targets: ["Ichigo"]),
        .library(name: "WebAuthn", targets: ["WebAuthn"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
    ],
    targets: [
        // libqrencode (Debian: libqrencode-dev), for the otpauth QR code.
        .systemLibrary(name: "CQRencode", pkgConfig: "libqrencode", providers: [.apt(["libqrencode-dev"])]),
        // The PKCS #11 interface (p11-kit's header); vendors' modules are loaded at run time with dlopen.
        .systemLibrary(name: "CPKCS11", path: "Sources/CPKCS11", pkgConfig: "p11-kit-1", providers: [.apt(["libp11-kit-dev"])]),
        // The master key's key-encryption key in a hardware security module, through PKCS #11.
        .target(name: "IchigoHSM", dependencies: ["CPKCS11"], swiftSettings: swiftSettings),
        .testTarget(name: "IchigoHSMTests", dependencies: ["IchigoHSM"], swiftSettings: swiftSettings),
        // Key custody: key stores (file, PKCS #11), key versions, rotation and re-sealing.
        .target(
            name: "IchigoKeys",
            dependencies: [
                "Ichigo", "IchigoHSM",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ], swiftSettings: swiftSettings),
        .testTarget(
            name: "IchigoKeysTests", dependencies: ["IchigoKeys", "IchigoTesting", "OTP"],
            swiftSettings: swiftSettings),
        // Pure one-time-password algorithms: HOTP, TOTP, OCRA (RFC 6287), base32, otpauth URIs, PSKC (RFC 6030).
        // Reading a secret at a terminal without echo, for both command-line tools.
        .target(name: "TerminalInput", swiftSettings: swiftSettings),
        .target(
            name: "OTP",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The WebAuthn relying-party checks (W3C WebAuthn Level 3 §7.1, §7.2): strict CBOR, COSE keys, attestation
        // `none` and `packed`. Pure: no I/O, no clock; swift-crypto, and swift-certificates for attestation chains.
        .target(
            name: "WebAuthn",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: swiftSettings
        ),
        // The domain: customers, tokens, lifecycle, policies, services. No I/O.
        .target(
            name: "Ichigo",
            dependencies: [
                "OTP",
                "WebAuthn",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // Repositories on SQLite (the embedded default).
        // What the storage backends keep in files beside the database: the signed audit head, the disk-space watch.
        // Kept out of the domain target, which does no I/O.
        .target(
            name: "IchigoFiles",
            dependencies: [
                "Ichigo",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ], swiftSettings: swiftSettings),
        .target(
            name: "IchigoSQLite",
            dependencies: [
                "Ichigo", "IchigoFiles",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // Repositories on PostgreSQL (several server instances on one database).
        .target(
            name: "IchigoPostgres",
            dependencies: [
                "Ichigo", "IchigoFiles",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        // The web layer: the HTML screens, the JSON API and the app's provisioning on Hummingbird, over the domain's
        // services only (no storage, configuration or mail: those are IchigoRuntime's).
        .target(
            name: "IchigoWeb",
            dependencies: [
                "CQRencode",
                "Ichigo",
                "OTP",
                "WebAuthn",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            resources: [.copy("Templates"), .copy("OpenAPI")],
            swiftSettings: swiftSettings
        ),
        // The program's wiring: configuration, the data directory and its lock, opening the store (SQLite or
        // PostgreSQL) and the key stores, the domain's services, the mail sender (SMTP or an outbox folder) and the
        // audit stream to the SIEM. Used by `ichigo serve` and every command.
        .target(
            name: "IchigoRuntime",
            dependencies: [
                "Ichigo", "IchigoFiles", "IchigoSQLite", "IchigoPostgres", "IchigoKeys", "IchigoHSM", "OTP", "WebAuthn",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IchigoRuntimeTests",
            dependencies: [
                "IchigoRuntime", "IchigoSQLite", "IchigoFiles", "IchigoTesting", "Ichigo", "OTP",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The repository contract suite and in-memory fakes, shared by every backend's tests.
        .target(
            name: "IchigoTesting",
            dependencies: [
                "Ichigo", "OTP", "WebAuthn", .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ichigo",
            dependencies: [
                "Ichigo",
                "OTP",
                "IchigoSQLite",
                "IchigoPostgres",
                "IchigoWeb", "IchigoRuntime",
                "IchigoHSM", "IchigoKeys", "IchigoFiles", "TerminalInput",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The software token's store, display and provisioning client (used by `ichigo-token`).
        .target(
            name: "SoftToken",
            dependencies: [
                "OTP",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ichigo-token",
            dependencies: [
                "SoftToken", "OTP", "TerminalInput",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SoftTokenTests",
            dependencies: ["SoftToken", "OTP"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WebAuthnTests",
            dependencies: ["WebAuthn", .product(name: "Crypto", package: "swift-crypto")],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OTPTests",
            dependencies: ["OTP"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IchigoTests",
            dependencies: ["Ichigo", "IchigoTesting", "OTP", "WebAuthn", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IchigoSQLiteTests",
            dependencies: [
                "IchigoSQLite", "IchigoFiles", "IchigoTesting", "Ichigo", "OTP", .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IchigoPostgresTests",
            dependencies: [
                "IchigoPostgres", "IchigoSQLite", "IchigoFiles", "IchigoTesting", "Ichigo", "OTP",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IchigoWebTests",
            dependencies: [
                "IchigoWeb", "IchigoRuntime", "IchigoSQLite", "IchigoFiles", "IchigoTesting", "Ichigo", "OTP", "WebAuthn",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
