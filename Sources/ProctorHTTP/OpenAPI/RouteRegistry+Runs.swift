import ProctorCore

/// The run routes beyond generic CRUD (launch, cancel, status, events, files, results, logs) and the agent API:
/// documented here as they land.
extension RouteRegistry {
    static let runs: [RouteDoc] = []

    static let runSchemas: [String: JSONValue] = [:]
}
