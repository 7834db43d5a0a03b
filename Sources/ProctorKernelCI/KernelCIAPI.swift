import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ProctorCore
import ProctorHTTPKit

/// The legacy KernelCI backend's job API, mounted under `/kernelci` (a client sets its API URL to
/// `http://host:port/kernelci`).
///
/// A thin mapping onto the core: a KernelCI job is a run that the CI loop reports on (``KernelCIJob``), its
/// builds are the run's test results, its logs summary is computed from the run's console. See
/// `docs/kernelci.md` for the endpoints and what differs from the original.
public struct KernelCIAPI: Sendable {
    /// Limits of the dialect.
    public struct Options: Sendable {
        /// The most documents one response carries: `limit=0` (KernelCI's "all") and larger limits are cut to it,
        /// and the envelope's `limit` then says so.
        public var maxLimit: Int
        /// The most matches sorted in memory when a query sorts on a labelled field (`job`, `kernel`, …); a
        /// query matching more must be narrowed, or sorted on `created_on`, `status` or `_id`.
        public var maxSortScan: Int
        /// The most jobs whose console logs one `GET /job/logs` summarises.
        public var maxLogSummaries: Int

        public init(maxLimit: Int = 1000, maxSortScan: Int = 10_000, maxLogSummaries: Int = 100) {
            self.maxLimit = max(1, maxLimit)
            self.maxSortScan = max(1, maxSortScan)
            self.maxLogSummaries = max(1, maxLogSummaries)
        }
    }

    let services: RunServices
    let options: Options
    let maxJSONBytes: Int
    /// The server clock in microseconds; time windows are computed from it.
    let now: @Sendable () -> Int64

    public init(
        services: RunServices,
        configuration: AppConfiguration,
        options: Options = Options(),
        now: @escaping @Sendable () -> Int64 = { Timestamp.now() }
    ) {
        self.services = services
        self.options = options
        self.maxJSONBytes = configuration.maxJSONBytes
        self.now = now
    }

    var store: any StoreReader { services.store }
    var reported: ReportedRuns { ReportedRuns(services: services) }

    /// Adds every KernelCI route to the router, behind KernelCI's error shape and token check.
    public func addRoutes(to router: Router<AppRequestContext>) {
        let open = router.group("kernelci")
            .add(middleware: DoorErrorMiddleware(KernelCIErrors()))
            .add(middleware: Authentication(services.authenticator, policy: .kernelCI, shape: KernelCIErrors()))
        let group = open.group(context: AuthenticatedContext.self)
        KernelCIJobController(api: self).addRoutes(to: group, preflights: open)
        KernelCIBuildController(api: self).addRoutes(to: group, preflights: open)
        // Anything else under the prefix is KernelCI's 404 (405 for methods it never serves).
        for method in [HTTPRequest.Method.get, .post, .put, .delete, .head] {
            group.on("**", method: method) { _, _ -> Response in throw KernelCIError.notFound }
        }
        for method in [HTTPRequest.Method.patch, .connect, .trace] {
            group.on("**", method: method) { _, _ -> Response in throw KernelCIError.notAllowed }
        }
        open.on("**", method: .options, use: Self.preflight)
    }

    /// Answers the methods a served path has no handler for: OPTIONS (CORS preflight, 200 without a token, as
    /// the original's `_options`) and the methods the original never served (405).
    static func addFallbacks(
        _ paths: [String],
        to group: RouterGroup<AuthenticatedContext>,
        preflights open: RouterGroup<AppRequestContext>
    ) {
        for path in paths {
            open.on(RouterPath(path), method: .options, use: preflight)
            for method in [HTTPRequest.Method.patch, .connect, .trace] {
                group.on(RouterPath(path), method: method) { _, _ -> Response in throw KernelCIError.notAllowed }
            }
        }
    }

    @Sendable static func preflight(_ request: Request, context: some RequestContext) async throws -> Response {
        KernelCIResponse.make(["code": .number(200)], request: request)
    }

    // MARK: Requests

    /// The query string in request order, decoded as Tornado decodes it (`+` is a space).
    static func parameters(_ request: Request) -> [(String, String)] {
        guard let query = request.uri.query, !query.isEmpty else { return [] }
        return query.split(separator: "&").compactMap { item -> (String, String)? in
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                let spaced = text.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            let name = decode(pair[0])
            guard !name.isEmpty else { return nil }
            return (name, pair.count > 1 ? decode(pair[1]) : "")
        }
    }

    /// The JSON object of a POST body, with the original's checks in its order: content type (415), JSON at all
    /// (422), an object (400).
    func object(_ request: Request) async throws -> [String: JSONValue] {
        guard let type = request.headers.value(of: .contentType), type.lowercased().hasPrefix("application/json") else {
            throw KernelCIError.wrongContentType
        }
        return try await JSONBody.reading({ try await JSONBody.object(request, limit: maxJSONBytes) }) { problem in
            switch problem {
            case .tooLarge(let limit):
                return KernelCIError(.contentTooLarge, "The request body is larger than \(limit) bytes")
            case .empty, .malformed: return KernelCIError.noJSON
            case .notAnObject: return KernelCIError.invalidJSON(["Provided data is not JSON"])
            }
        }
    }

    /// The group a job created by this caller belongs to: one named `kernelci` if the caller is a member of it,
    /// else the first group (by name) where it is at least a member.
    func owningGroup(_ principal: Principal) throws -> String {
        let writable = principal.memberships.filter { $0.role >= .member }
        if let kernelci = writable.first(where: { $0.groupName == "kernelci" }) { return kernelci.groupID }
        guard let first = writable.first else { throw KernelCIError.forbidden }
        return first.groupID
    }

    /// Writing to a job needs the member role in its group; KernelCI has one answer for every refusal.
    func requireWrite(_ run: Run, _ principal: Principal) throws {
        guard principal.has(.member, in: run.groupID ?? "") else { throw KernelCIError.forbidden }
    }

    // MARK: Listings

    /// One page of KernelCI jobs, the number of matches and the limit to report.
    struct Listing {
        var items: [Record]
        var total: Int
        var limit: Int
    }

    /// Reads the jobs matching `filter` (already in run terms, jobs only) in KernelCI's paging terms.
    ///
    /// `requestedLimit` 0 means every match, up to `cap`; the reported limit is 0 when every match was returned
    /// and the applied cap when one cut the answer. Sorting on a labelled field is done here, over at most
    /// ``Options/maxSortScan`` matches.
    func jobs(
        filter: Filter,
        window: TimeWindow?,
        sort: [KernelCISortKey],
        columns: [String]?,
        skip: Int,
        requestedLimit: Int,
        cap: Int,
        scope: Scope
    ) async throws -> Listing {
        let effective = requestedLimit == 0 ? cap : min(requestedLimit, cap)
        let labelSort = sort.contains { if case .label = $0 { return true } else { return false } }
        var items: [Record] = []
        let total: Int
        if labelSort {
            do {
                (items, total) = try await scans.sorted(
                    .runs,
                    Query(filter: filter, window: window),
                    by: sort,
                    skip: skip,
                    limit: effective,
                    scanAtMost: options.maxSortScan,
                    scope: scope
                )
            } catch let tooMany as RowScans.TooManyToSort {
                let names = sort.compactMap { key -> String? in
                    if case .label(let name, _) = key { return name } else { return nil }
                }
                throw KernelCIError(
                    .badRequest,
                    "Too many results (\(tooMany.matches)) to sort on '\(names.joined(separator: "', '"))': narrow the query to at most "
                        + "\(tooMany.limit) results, or sort on created_on, status or _id"
                )
            }
        } else {
            var keys = sort.compactMap { key -> SortKey? in
                if case .column(let column) = key { return column } else { return nil }
            }
            if keys.isEmpty { keys = [SortKey("created_at", descending: true)] }
            let query = Query(
                filter: filter,
                sort: keys,
                limit: effective,
                offset: skip,
                fields: columns,
                window: window,
                includeTotal: true
            )
            var first: Page?
            items = try await scans.collect(.runs, query, upTo: effective, scope: scope) { first = first ?? $0 }
            total = first?.total ?? items.count
        }
        let reported = requestedLimit == 0 && total - skip <= cap ? 0 : effective
        return Listing(items: items, total: total, limit: reported)
    }

    var scans: RowScans { RowScans(store: store) }
}
