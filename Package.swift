// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "proctor",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "proctor", targets: ["proctor"]),
        .executable(name: "proctor-bench", targets: ["ProctorBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.27.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.29.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
    ],
    targets: [
        // The data model: entities, values, the query language, errors, and the store's reading protocol.
        .target(
            name: "ProctorModel",
            swiftSettings: swiftSettings
        ),
        // The store's writing protocol. Only the core's services, the store and the assembly depend on it: a door
        // that does not may read the store but not write it.
        .target(
            name: "ProctorStoreWriting",
            dependencies: ["ProctorModel"],
            swiftSettings: swiftSettings
        ),
        // The domain: run lifecycle, queue, scheduling, cascades, accounts and every rule the doors share.
        .target(
            name: "ProctorCore",
            dependencies: [
                "ProctorModel",
                "ProctorStoreWriting",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ProctorStore",
            dependencies: [
                "ProctorModel",
                "ProctorStoreWriting",
                "ProctorCore",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                // SQLiteNIO's C module (VaporCSQLite) comes with it: sqlite-nio exports no product for it.
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ProctorExec",
            dependencies: [
                "ProctorCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Runs' files in an S3-compatible object store (the core's FileStore), so that the core needs no HTTP client.
        .target(
            name: "ProctorObjectStore",
            dependencies: [
                "ProctorCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The request pipeline every door shares: context, authentication, scope check, body reading, limits,
        // error plumbing, metrics and the access log. Doors depend on it and on the core, never on the store.
        .target(
            name: "ProctorHTTPKit",
            dependencies: [
                "ProctorCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        // The doors: each parses its dialect into core calls and renders the answer.
        .target(
            name: "ProctorNativeAPI",
            dependencies: [
                "ProctorCore",
                "ProctorHTTPKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ProctorDCI",
            dependencies: [
                "ProctorCore",
                "ProctorHTTPKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ProctorKernelCI",
            dependencies: [
                "ProctorCore",
                "ProctorHTTPKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ProctorCDRouter",
            dependencies: [
                "ProctorCore",
                "ProctorHTTPKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ProctorXPRESSO",
            dependencies: [
                "ProctorCore",
                "ProctorHTTPKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ProctorDashboard",
            dependencies: [
                // The dashboard is the native API's face in HTML: it reuses its event stream, log follower and
                // downloads.
                "ProctorNativeAPI",
                "ProctorCore",
                "ProctorHTTPKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            resources: [.copy("Templates"), .copy("Assets")],
            swiftSettings: swiftSettings
        ),
        // The application: the store, the executor and every door assembled into one server.
        .target(
            name: "ProctorHTTP",
            dependencies: [
                "ProctorCore",
                "ProctorStore",
                "ProctorStoreWriting",
                "ProctorExec",
                "ProctorHTTPKit",
                "ProctorNativeAPI",
                "ProctorDCI",
                "ProctorKernelCI",
                "ProctorCDRouter",
                "ProctorXPRESSO",
                "ProctorDashboard",
                "ProctorObjectStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "proctor",
            dependencies: [
                "ProctorStoreWriting",
                "ProctorCore",
                "ProctorStore",
                "ProctorHTTP",
                "ProctorHTTPKit",
                "ProctorExec",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ProctorBench",
            dependencies: [
                "ProctorCore",
                "ProctorDCI",
                "ProctorStore",
                "ProctorHTTP",
                "ProctorHTTPKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Benchmarks/ProctorBench",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ProctorTestSupport",
            dependencies: ["ProctorStoreWriting", "ProctorStore", .product(name: "Logging", package: "swift-log")],
            path: "Tests/ProctorTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ProctorCoreTests",
            dependencies: ["ProctorCore"],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ProctorStoreTests",
            dependencies: [
                "ProctorStoreWriting", "ProctorCore", "ProctorStore", "ProctorTestSupport",
                .product(name: "SQLiteKit", package: "sqlite-kit"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ProctorHTTPTests",
            dependencies: [
                "ProctorStoreWriting",
                "ProctorCore",
                "ProctorStore",
                "ProctorHTTP",
                "ProctorHTTPKit",
                "ProctorNativeAPI",
                "ProctorDCI",
                "ProctorKernelCI",
                "ProctorCDRouter",
                "ProctorXPRESSO",
                "ProctorDashboard",
                "ProctorExec",
                "ProctorTestSupport",
                "ProctorObjectStore",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
