import ProctorCore
import ProctorHTTPKit

/// Interprets the GET parameters of the legacy KernelCI backend (`app/handlers/common/query.py`).
///
/// KernelCI clients and dashboards filter by repeating plain `key=value` parameters and steer the rest with
/// control parameters (`date_range`, `time_range`, `sort_order`, ...). KernelCI never rejects a query: bad
/// numbers fall back to defaults and unknown parameters are ignored, so this parser never throws either.
public enum KernelCIQuery {
    /// What a KernelCI request asks for, in core terms.
    public struct Parsed: Sendable, Equatable {
        public var filter: Filter?
        public var sort: [SortKey]
        /// Page size; 0 means no limit (KernelCI's default).
        public var limit: Int
        public var skip: Int
        /// Only these fields (`field=`); nil when none was named.
        public var fields: [String]?
        /// Leave these fields out (`nfield=`).
        public var excludedFields: [String]
        /// The creation-time window from `created_on`, `date_range` or `time_range`, on ``KernelCIQuery/windowField``.
        public var window: TimeWindow?

        public init(
            filter: Filter? = nil,
            sort: [SortKey] = [],
            limit: Int = 0,
            skip: Int = 0,
            fields: [String]? = nil,
            excludedFields: [String] = [],
            window: TimeWindow? = nil
        ) {
            self.filter = filter
            self.sort = sort
            self.limit = limit
            self.skip = skip
            self.fields = fields
            self.excludedFields = excludedFields
            self.window = window
        }
    }

    /// The field the time window applies to.
    public static let windowField = "created_at"

    /// Parameters with a meaning of their own; never treated as equality filters even when in `filterKeys`
    /// (KernelCI lists `created_on` among a job's filter keys but always turns it into a date range).
    public static let controlParameters: Set<String> = [
        "created_on", "date_range", "time_range", "sort", "sort_order", "limit", "skip", "field", "nfield",
        "gte", "lt", "aggregate",
    ]

    static let defaultDateRange = 5
    static let maxDateRange = 999_999_999  // Python's timedelta.max.days
    static let defaultTimeRange = 60
    static let timeRangeBounds = 10...1440
    static let microsPerMinute: Int64 = 60_000_000
    static let microsPerDay: Int64 = 86_400_000_000

    /// Interprets `params` (name, value) in request order.
    ///
    /// - Filters: each name in `filterKeys` (and not a control parameter) becomes an equality; a repeated name
    ///   becomes `.in` of its values; the literal `null` (when every value is `null`) is `IS NULL`. Empty values
    ///   are dropped, as KernelCI does.
    /// - `gte=field,value` / `lt=field,value` (field in `filterKeys`; the last one per field and operator wins)
    ///   add `>=` / `<` predicates.
    /// - `created_on=YYYY-MM-DD|YYYYMMDD`: that UTC day, `[00:00, next day 00:00)`; an invalid date is ignored.
    /// - `date_range=N` days: from midnight UTC N days before today (or before `created_on`) to the end of today
    ///   (or of `created_on`); a bad number means 5; the sign is dropped.
    /// - `time_range=M` minutes: `[now − M, now)`, M clamped to 10...1440, a bad number means 60; overrides the
    ///   other two.
    /// - `sort` (repeatable) with `sort_order` `1` or `-1` (default and fallback `-1`) for every key.
    /// - `limit` and `skip`: the last value; a bad number means 0 (a negative limit counts as its magnitude, as
    ///   in MongoDB; a negative skip as 0).
    /// - `field` / `nfield` (repeatable): projection, duplicates removed.
    ///
    /// Values are trimmed of surrounding whitespace first, as Tornado's `get_query_arguments` does.
    ///
    /// - Parameter now: the current time in microseconds since the epoch (see ``Timestamp``).
    public static func parse(_ params: [(String, String)], filterKeys: Set<String>, now: Int64) -> Parsed {
        var filterOrder: [String] = []
        var filterValues: [String: [String]] = [:]
        var bounds: [(field: String, op: FilterOperator, value: String)] = []
        var controls: [String: [String]] = [:]

        for (name, rawValue) in params {
            let value = rawValue.trimmingASCIIWhitespace()
            if controlParameters.contains(name) {
                controls[name, default: []].append(value)
                if name == "gte" || name == "lt" {
                    addBound(value, op: name == "gte" ? .greaterOrEqual : .less, filterKeys: filterKeys, to: &bounds)
                }
            } else if filterKeys.contains(name), !value.isEmpty {
                if filterValues[name] == nil { filterOrder.append(name) }
                filterValues[name, default: []].append(value)
            }
        }

        var parts: [Filter] = []
        for key in filterOrder {
            let values = filterValues[key] ?? []
            if values.allSatisfy({ $0 == "null" }) {
                parts.append(.predicate(.isNull(key)))
            } else if values.count == 1 {
                parts.append(.predicate(Condition(key, .equal, values[0])))
            } else {
                parts.append(.predicate(Condition(key, .in, values)))
            }
        }
        parts += bounds.map { Filter.predicate(Condition($0.field, $0.op, $0.value)) }

        var parsed = Parsed()
        parsed.filter = parts.count <= 1 ? parts.first : .and(parts)
        parsed.window = window(controls, now: now)

        if let sortFields = controls["sort"]?.filter({ !$0.isEmpty }), !sortFields.isEmpty {
            let order = controls["sort_order"]?.last.flatMap { Int($0) }
            let descending = order != 1
            parsed.sort = sortFields.map { SortKey($0, descending: descending) }
        }

        if let limit = controls["limit"]?.last.flatMap({ Int($0) }) {
            parsed.limit = Int(clamping: limit.magnitude)
        }
        if let skip = controls["skip"]?.last.flatMap({ Int($0) }) {
            parsed.skip = max(skip, 0)
        }

        if let included = controls["field"]?.filter({ !$0.isEmpty }), !included.isEmpty {
            parsed.fields = unique(included)
        }
        parsed.excludedFields = unique(controls["nfield"]?.filter { !$0.isEmpty } ?? [])
        return parsed
    }

    /// Records one `gte`/`lt` bound, replacing an earlier one for the same field and operator.
    private static func addBound(
        _ argument: String,
        op: FilterOperator,
        filterKeys: Set<String>,
        to bounds: inout [(field: String, op: FilterOperator, value: String)]
    ) {
        let pieces = argument.split(separator: ",", omittingEmptySubsequences: false)
        guard pieces.count == 2 else { return }
        let field = String(pieces[0])
        let value = String(pieces[1])
        guard filterKeys.contains(field), !value.isEmpty else { return }
        if let existing = bounds.firstIndex(where: { $0.field == field && $0.op == op }) {
            bounds[existing].value = value
        } else {
            bounds.append((field, op, value))
        }
    }

    /// The creation-time window: `time_range` beats `date_range`, which extends `created_on`.
    private static func window(_ controls: [String: [String]], now: Int64) -> TimeWindow? {
        if let text = controls["time_range"]?.last {
            let minutes = Int(text).map { Int(clamping: $0.magnitude) } ?? defaultTimeRange
            let clamped = Int64(min(max(minutes, timeRangeBounds.lowerBound), timeRangeBounds.upperBound))
            return TimeWindow(field: windowField, from: now - clamped * microsPerMinute, to: now)
        }

        let createdOn = controls["created_on"]?.last.flatMap(dayStart)
        if let text = controls["date_range"]?.last {
            var days = Int(text).map { Int(clamping: $0.magnitude) } ?? defaultDateRange
            if days > maxDateRange { days = defaultDateRange }
            let lastDay = createdOn ?? floorDiv(now, microsPerDay) * microsPerDay
            // Python would overflow before year 1; an unbounded start is the useful reading.
            let span = Int64(days).multipliedReportingOverflow(by: microsPerDay)
            let start = span.overflow ? nil : lastDay.subtractingReportingOverflow(span.partialValue)
            return TimeWindow(
                field: windowField,
                from: start.flatMap { $0.overflow ? nil : $0.partialValue },
                to: lastDay + microsPerDay
            )
        }
        if let start = createdOn {
            return TimeWindow(field: windowField, from: start, to: start + microsPerDay)
        }
        return nil
    }

    /// Midnight UTC (microseconds) of `YYYY-MM-DD` or `YYYYMMDD`, or nil when it is not a real date.
    static func dayStart(_ text: String) -> Int64? {
        let scalars = Array(text.unicodeScalars)
        let digits: [Unicode.Scalar]
        if scalars.count == 10, scalars[4] == "-", scalars[7] == "-" {
            digits = Array(scalars[0..<4] + scalars[5..<7] + scalars[8..<10])
        } else if scalars.count == 8 {
            digits = scalars
        } else {
            return nil
        }
        guard digits.allSatisfy({ ("0"..."9").contains($0) }) else { return nil }
        func number(_ range: Range<Int>) -> Int {
            digits[range].reduce(0) { $0 * 10 + Int($1.value - 48) }
        }
        let year = number(0..<4)
        let month = number(4..<6)
        let day = number(6..<8)
        guard year >= 1,
            let seconds = Timestamp.civil(year: year, month: month, day: day, hour: 0, minute: 0, second: 0)
        else { return nil }
        return seconds * 1_000_000
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    private static func unique(_ values: [String]) -> [String] {
        var seen: Set<String> = []
        return values.filter { seen.insert($0).inserted }
    }
}
