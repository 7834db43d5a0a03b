import Hummingbird

/// The methods each documented path answers, so that a known path called with the wrong method is a 405 with
/// `Allow` instead of the router's 404 (the OpenAPI document is the list of routes; a test keeps it complete).
public struct AllowedMethods: Sendable {
    private let templates: [(segments: [Substring], methods: [String])]

    public init(routes: [(path: String, method: String)]) {
        var byPath: [String: [String]] = [:]
        var order: [String] = []
        for route in routes {
            if byPath[route.path] == nil { order.append(route.path) }
            byPath[route.path, default: []].append(route.method)
        }
        templates = order.map { path in
            var methods = byPath[path] ?? []
            if methods.contains("GET") { methods.append("HEAD") }
            return (path.split(separator: "/"), methods)
        }
    }

    /// The methods allowed on `path`, or nil when no documented route has that shape.
    package func methods(for path: String) -> [String]? {
        let segments = path.split(separator: "?", maxSplits: 1).first.map { $0.split(separator: "/") } ?? []
        var found: [String] = []
        for template in templates where template.segments.count == segments.count {
            let matches = zip(template.segments, segments).allSatisfy { pattern, segment in
                pattern.hasPrefix("{") || pattern == segment
            }
            if matches { found.append(contentsOf: template.methods) }
        }
        if found.isEmpty { return nil }
        var seen: Set<String> = []
        return found.filter { seen.insert($0).inserted }
    }
}
