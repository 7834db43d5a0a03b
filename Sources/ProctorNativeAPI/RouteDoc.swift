import ProctorCore
import ProctorHTTPKit

/// The documentation of one route: what ``OpenAPIDocument`` turns into an OpenAPI operation and `/docs` into a
/// section. Path parameters (`{id}`) are taken from the path; the error responses default to the native set.
///
/// ```swift
/// RouteDoc(.delete, "/api/v1/tokens/{id}", "Revoke a token", tag: "Tokens", replies: [.noContent("Revoked.")])
/// ```
struct RouteDoc: Sendable {
    enum Method: String, Sendable, CaseIterable {
        case get, put, post, patch, delete, head, options
    }

    var method: Method
    /// The OpenAPI path template (`/api/v1/users/{id}`), as Hummingbird prints the route.
    var path: String
    var summary: String
    var tag: String
    var description: String?
    /// Reachable without credentials.
    var isPublic: Bool
    var parameters: [ParameterDoc]
    var body: BodyDoc?
    var replies: [ReplyDoc]
    /// Error statuses answered in the native error shape.
    var errors: [Int]

    /// The statuses any authenticated route may answer with the native error shape (503: the store is down).
    static let standardErrors = [400, 401, 403, 404, 409, 413, 415, 422, 503]

    init(
        _ method: Method,
        _ path: String,
        _ summary: String,
        tag: String,
        description: String? = nil,
        public isPublic: Bool = false,
        parameters: [ParameterDoc] = [],
        body: BodyDoc? = nil,
        replies: [ReplyDoc],
        errors: [Int]? = nil
    ) {
        self.method = method
        self.path = path
        self.summary = summary
        self.tag = tag
        self.description = description
        self.isPublic = isPublic
        self.parameters = parameters
        self.body = body
        self.replies = replies
        // Without a body, a route cannot be too large or of the wrong content type.
        self.errors = errors ?? Self.standardErrors.filter { body != nil || ($0 != 413 && $0 != 415) }
    }

    /// `{id}`-style names in the path, in order.
    var pathParameters: [String] {
        path.split(separator: "/").compactMap { segment in
            guard segment.hasPrefix("{"), segment.hasSuffix("}") else { return nil }
            return String(segment.dropFirst().dropLast())
        }
    }

    /// A stable, unique operation id: `get_api_v1_users_id`.
    var operationID: String {
        let words = path.split(whereSeparator: { !$0.isLetter && !$0.isNumber && $0 != "_" }).map(String.init)
        return ([method.rawValue] + words).joined(separator: "_")
    }
}

/// A query or header parameter, or a reference to a shared one in `components/parameters`.
struct ParameterDoc: Sendable {
    enum Location: String, Sendable {
        case query, header, path
    }

    var name: String
    var location: Location
    var description: String
    var schema: JSONValue
    var required: Bool
    /// The name of the shared component this refers to, if any.
    var reference: String?

    static func query(
        _ name: String,
        _ description: String,
        _ schema: JSONValue = SchemaDoc.string,
        required: Bool = false
    )
        -> ParameterDoc
    {
        ParameterDoc(name: name, location: .query, description: description, schema: schema, required: required)
    }

    static func header(_ name: String, _ description: String, _ schema: JSONValue = SchemaDoc.string) -> ParameterDoc {
        ParameterDoc(name: name, location: .header, description: description, schema: schema, required: false)
    }

    /// A shared parameter from ``OpenAPIDocument/sharedParameters``.
    static func shared(_ name: String) -> ParameterDoc {
        ParameterDoc(
            name: name,
            location: .query,
            description: "",
            schema: SchemaDoc.any,
            required: false,
            reference: name
        )
    }

    /// `If-Match`: the ETag the client read, for optimistic concurrency (409 when it changed since).
    static let ifMatch = header(
        "If-Match",
        "The ETag read earlier; the change is refused with 409 if the resource changed since."
    )

    /// Every list parameter of the query model: filter, type, sort, limit, offset, cursor, fields, count.
    static let list: [ParameterDoc] = OpenAPIDocument.listParameterNames.map(shared)
}

/// A request body: JSON with a schema, or raw bytes of some media type.
struct BodyDoc: Sendable {
    var mediaType: String
    var schema: JSONValue
    var required: Bool

    static func json(_ schema: JSONValue) -> BodyDoc {
        BodyDoc(mediaType: "application/json", schema: schema, required: true)
    }

    static func raw(
        _ mediaType: String = "application/octet-stream",
        schema: JSONValue = SchemaDoc.string(format: "binary")
    )
        -> BodyDoc
    {
        BodyDoc(mediaType: mediaType, schema: schema, required: true)
    }
}

/// One successful (or otherwise expected) response: its bodies by media type, and its headers.
struct ReplyDoc: Sendable {
    var status: Int
    var description: String
    /// Schema of the body by media type (empty: no body).
    var content: [String: JSONValue]
    /// Response headers by name, with their schema.
    var headers: [String: JSONValue]

    init(_ status: Int, _ description: String, content: [String: JSONValue] = [:], headers: [String: JSONValue] = [:]) {
        self.status = status
        self.description = description
        self.content = content
        self.headers = headers
    }

    static func json(_ status: Int, _ description: String, _ schema: JSONValue, etag: Bool = false) -> ReplyDoc {
        ReplyDoc(
            status,
            description,
            content: ["application/json": schema],
            headers: etag
                ? ["ETag": SchemaDoc.described(SchemaDoc.string, "The version of the resource, for If-Match.")] : [:]
        )
    }

    static func ok(_ schema: JSONValue, _ description: String = "OK.", etag: Bool = false) -> ReplyDoc {
        json(200, description, schema, etag: etag)
    }

    static func created(_ schema: JSONValue, _ description: String = "Created.", etag: Bool = false) -> ReplyDoc {
        json(201, description, schema, etag: etag)
    }

    static func noContent(_ description: String = "Done; no body.") -> ReplyDoc {
        ReplyDoc(204, description)
    }

    static func text(_ status: Int = 200, _ description: String, mediaType: String) -> ReplyDoc {
        ReplyDoc(status, description, content: [mediaType: SchemaDoc.string])
    }

    /// Server-sent events: each event has an `event` name, a JSON `data` line and (for resumable streams) an `id`.
    static func events(_ description: String) -> ReplyDoc {
        ReplyDoc(
            200,
            description,
            content: [
                "text/event-stream": SchemaDoc.object([
                    "event": SchemaDoc.string, "data": SchemaDoc.described(SchemaDoc.string, "A JSON document."),
                    "id": SchemaDoc.string,
                ])
            ]
        )
    }
}
