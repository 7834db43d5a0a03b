import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Mustache
import NIOCore
import ProctorCore
import ProctorHTTPKit

/// The dashboard's templates and assets, read once from the ProctorHTTP resource bundle, and the page shell
/// every page shares. Templates only ever use `{{x}}` (HTML-escaped) for data; nothing a user can name is
/// rendered unescaped.
struct DashboardRenderer: Sendable {
    struct Asset: Sendable {
        var bytes: ByteBuffer
        var contentType: String
        var etag: String
    }

    let library: MustacheLibrary
    let assets: [String: Asset]
    /// A digest of every asset: page links carry it (`?v=`), so an asset can be cached for a year.
    let assetVersion: String

    /// Loads from `PROCTOR_DASHBOARD_DIR` when set, else from the resource bundle beside the executable, else
    /// from SwiftPM's `Bundle.module`.
    static let shared: Result<DashboardRenderer, any Error> = Result { try DashboardRenderer(root: resourceRoot()) }

    static func resourceRoot() -> URL {
        if let directory = ProcessInfo.processInfo.environment["PROCTOR_DASHBOARD_DIR"] {
            return URL(fileURLWithPath: directory)
        }
        // A release unpacked elsewhere (scripts/package) carries the bundle beside the binary; `Bundle.module`
        // only knows the build directory it was built in.
        let beside = Bundle.main.bundleURL.appendingPathComponent("proctor_ProctorDashboard.resources")
        if FileManager.default.fileExists(atPath: beside.appendingPathComponent("Templates").path) { return beside }
        return Bundle.module.resourceURL ?? Bundle.module.bundleURL
    }

    init(root: URL) throws {
        var library = MustacheLibrary()
        let templates = root.appendingPathComponent("Templates")
        for name in try FileManager.default.contentsOfDirectory(atPath: templates.path)
        where name.hasSuffix(".mustache") {
            let text = try String(contentsOf: templates.appendingPathComponent(name), encoding: .utf8)
            try library.register(text, named: String(name.dropLast(".mustache".count)))
        }
        self.library = library
        var assets: [String: Asset] = [:]
        var digest = SHA256()
        let folder = root.appendingPathComponent("Assets")
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() {
            let data = try Data(contentsOf: folder.appendingPathComponent(name))
            let hash = Credentials.hex(SHA256.hash(data: data)).prefix(16)
            digest.update(data: data)
            assets[name] = Asset(
                bytes: ByteBuffer(bytes: data),
                contentType: Self.contentType(name),
                etag: "\"\(hash)\""
            )
        }
        self.assets = assets
        self.assetVersion = String(Credentials.hex(digest.finalize()).prefix(12))
    }

    static func contentType(_ name: String) -> String {
        switch name.split(separator: ".").last {
        case "css": return "text/css; charset=utf-8"
        case "js": return "text/javascript; charset=utf-8"
        case "svg": return "image/svg+xml"
        case "png": return "image/png"
        case "ico": return "image/x-icon"
        default: return "application/octet-stream"
        }
    }

    /// Renders one template with the shared page data merged in.
    func render(_ template: String, _ data: [String: Any]) throws -> String {
        let context = Self.pruned(data.merging(["assetVersion": assetVersion]) { a, _ in a })
        guard let html = library.render(context, withTemplate: template) else {
            throw ProctorError(.internal, "missing dashboard template \(template)")
        }
        return html
    }

    /// The data with every empty string as ``Blank``: `{{#field}}` is false for an empty field as for a missing
    /// one, yet the name still hides a same-named field of an outer context (no surprising stack climbing).
    static func pruned(_ data: [String: Any]) -> [String: Any] {
        data.mapValues { value in
            switch value {
            case let text as String where text.isEmpty: return Blank()
            case let object as [String: Any]: return pruned(object)
            case let list as [[String: Any]]: return list.map(pruned)
            default: return value
            }
        }
    }

    /// A whole page: `template` wrapped in the shell (`head` and `foot` partials) with the signed-in user's data.
    func page(
        _ template: String,
        title: String,
        section: String,
        session: PageSession?,
        data: [String: Any],
        status: HTTPResponse.Status = .ok
    ) throws -> Response {
        Self.html(try pageHTML(template, title: title, section: section, session: session, data: data), status: status)
    }

    func pageHTML(_ template: String, title: String, section: String, session: PageSession?, data: [String: Any]) throws
        -> String
    {
        var data = data
        data["title"] = title
        data["nav_" + section] = true
        if let session {
            data["signed_in"] = true
            data["user"] = session.userName
            data["csrf"] = session.csrf
        }
        return try render(template, data)
    }

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                HTTPField.Name("X-Content-Type-Options")!: "nosniff", HTTPField.Name("X-Frame-Options")!: "DENY",
                .contentSecurityPolicy:
                    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
                HTTPField.Name("Referrer-Policy")!: "same-origin",
            ],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }
}

/// An empty value: renders as nothing and counts as false in sections.
struct Blank: MustacheCustomRenderable {
    var renderText: String { "" }
    var isNull: Bool { true }
}

/// The signed-in user as a page needs them: a name for the header and the CSRF token for its forms.
struct PageSession: Sendable {
    var userName: String
    var csrf: String
    var principal: Principal

    init(principal: Principal, csrf: String) {
        self.principal = principal
        self.userName = principal.name
        self.csrf = csrf
    }

    /// The session of a request that passed ``DashboardSessionMiddleware``.
    init(_ request: Request, _ context: AuthenticatedContext) throws {
        try self.init(request, principal: context.principal)
    }

    init(_ request: Request, principal: Principal) throws {
        guard let secret = DashboardSession.secret(request) else { throw ProctorError(.unauthorized, "log in first") }
        self.principal = principal
        self.userName = principal.name
        self.csrf = DashboardSession.csrfToken(secret: secret)
    }
}

/// Small formatting helpers the page models share.
enum Format {
    /// `2026-11-23 05:33:43` (UTC) for a timestamp in microseconds.
    static func time(_ micros: Int64?) -> String {
        guard let micros else { return "" }
        let text = Timestamp.rfc3339(micros: micros)
        return String(text.prefix(19)).replacingOccurrences(of: "T", with: " ")
    }

    /// `4.2 s`, `3 min 12 s`, `2 h 05 min`.
    static func duration(_ seconds: Double?) -> String {
        guard let seconds, seconds >= 0 else { return "" }
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let whole = Int(seconds)
        if whole < 3600 { return "\(whole / 60) min \(whole % 60) s" }
        return String(format: "%d h %02d min", whole / 3600, (whole % 3600) / 60)
    }

    static func bytes(_ count: Int64?) -> String {
        guard let count else { return "" }
        if count < 1024 { return "\(count) B" }
        if count < 1 << 20 { return String(format: "%.1f KiB", Double(count) / 1024) }
        return String(format: "%.1f MiB", Double(count) / 1_048_576)
    }

    /// The CSS class of a status badge.
    static func statusClass(_ status: String?) -> String {
        switch status ?? "" {
        case "success", "passed", "online", "idle", "RECOVERED": return "ok"
        case "failure", "failed", "error", "REGRESSED": return "bad"
        case "killed", "skipped", "offline": return "muted"
        case "new": return "queued"
        default: return "active"
        }
    }
}
