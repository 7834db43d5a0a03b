import Testing

@testable import ProctorCore
@testable import ProctorDCI
@testable import ProctorHTTP
@testable import ProctorKernelCI
@testable import ProctorXPRESSO

/// Runs `body` and returns the ``ProctorError`` it throws, or nil when it throws nothing (or something else).
private func thrownError(_ body: () throws -> Void) -> ProctorError? {
    do {
        try body()
    } catch {
        return error as? ProctorError
    }
    return nil
}

/// Expects `body` to throw a `badRequest` on `field` whose message mentions `text`.
private func expectBadRequest(
    field: String?,
    mentioning text: String,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) {
    let error = thrownError(body)
    #expect(error != nil, "expected an error mentioning \(text)", sourceLocation: sourceLocation)
    guard let error else { return }
    #expect(error.code == .badRequest, sourceLocation: sourceLocation)
    #expect(error.field == field, sourceLocation: sourceLocation)
    #expect(error.message.contains(text), "message: \(error.message)", sourceLocation: sourceLocation)
}

private func condition(_ field: String, _ op: FilterOperator, _ values: [String]) -> Filter {
    .predicate(Condition(field, op, values))
}

private func condition(_ field: String, _ op: FilterOperator, _ value: String) -> Filter {
    .predicate(Condition(field, op, value))
}

// MARK: - CDRouter filter grammar

@Suite struct FilterExpressionTests {
    static let operatorCases: [(String, Condition)] = [
        ("name=foo", Condition("name", .equal, "foo")),
        ("use_as_testlist!=true", Condition("use_as_testlist", .notEqual, "true")),
        ("loops<5", Condition("loops", .less, "5")),
        ("loops<=5", Condition("loops", .lessOrEqual, "5")),
        ("loops>5", Condition("loops", .greater, "5")),
        ("loops>=5", Condition("loops", .greaterOrEqual, "5")),
        ("name~^DHCP", Condition("name", .regex, "^DHCP")),
        ("name!~^DHCP", Condition("name", .notRegex, "^DHCP")),
        ("name~*^dhcp", Condition("name", .regexIgnoringCase, "^dhcp")),
        ("name!~*^(foo|bar)$", Condition("name", .notRegexIgnoringCase, "^(foo|bar)$")),
        ("tags@>{foo,bar,baz}", Condition("tags", .arrayContains, ["foo", "bar", "baz"])),
        ("tags<@{a,b}", Condition("tags", .arrayContainedBy, ["a", "b"])),
        ("tags&&{nightly}", Condition("tags", .arrayOverlaps, ["nightly"])),
        ("id={1,3}", Condition("id", .in, ["1", "3"])),
        ("id!={1,3}", Condition("id", .notIn, ["1", "3"])),
        ("labels.job=nightly", Condition("labels.job", .equal, "nightly")),
        ("name=", Condition("name", .equal, "")),
        ("active=true", Condition("active", .equal, "true")),
        ("created>=2024-05-01T12:00:00Z", Condition("created", .greaterOrEqual, "2024-05-01T12:00:00Z")),
    ]

    @Test(arguments: operatorCases)
    func everyOperator(text: String, expected: Condition) throws {
        #expect(try FilterExpression.parse(text) == expected)
    }

    @Test func longestOperatorWins() throws {
        #expect(try FilterExpression.parse("a<=b") == Condition("a", .lessOrEqual, "b"))
        #expect(try FilterExpression.parse("a>=") == Condition("a", .greaterOrEqual, ""))
        #expect(try FilterExpression.parse("a!~*x") == Condition("a", .notRegexIgnoringCase, "x"))
        #expect(try FilterExpression.parse("a!~x") == Condition("a", .notRegex, "x"))
        #expect(try FilterExpression.parse("a~**") == Condition("a", .regexIgnoringCase, "*"))
        // Only the first operator counts; the rest belongs to the value.
        #expect(try FilterExpression.parse("a==b") == Condition("a", .equal, "=b"))
        #expect(try FilterExpression.parse("a!=<5") == Condition("a", .notEqual, "<5"))
    }

    @Test func braceValuesOfScalarOperatorsStayText() throws {
        #expect(try FilterExpression.parse("name~^x{2}$") == Condition("name", .regex, "^x{2}$"))
        #expect(try FilterExpression.parse("name~{a,b}") == Condition("name", .regex, "{a,b}"))
        #expect(try FilterExpression.parse("name={abc") == Condition("name", .equal, "{abc"))
    }

    @Test func arrayLiterals() throws {
        #expect(try FilterExpression.parse("tags@>{}") == Condition("tags", .arrayContains, [String]()))
        #expect(try FilterExpression.parse("tags@>{ }") == Condition("tags", .arrayContains, [String]()))
        #expect(try FilterExpression.parse("tags&&{ a , b }") == Condition("tags", .arrayOverlaps, ["a", "b"]))
        #expect(try FilterExpression.parse(#"tags@>{""}"#) == Condition("tags", .arrayContains, [""]))
        #expect(
            try FilterExpression.parse(#"tags@>{"a,b", "say \"hi\"",plain, "back\\slash" ,"{x}"}"#)
                == Condition("tags", .arrayContains, ["a,b", #"say "hi""#, "plain", #"back\slash"#, "{x}"])
        )
        #expect(
            try FilterExpression.parse(#"name={"x y",z}"#) == Condition("name", .in, ["x y", "z"])
        )
        #expect(try FilterExpression.parse("id!={}") == Condition("id", .notIn, [String]()))
    }

    @Test func errorsNameTheExpression() {
        expectBadRequest(field: "filter", mentioning: "'name'") { _ = try FilterExpression.parse("name") }
        expectBadRequest(field: "filter", mentioning: "missing operator") { _ = try FilterExpression.parse("name") }
        expectBadRequest(field: "filter", mentioning: "empty filter") { _ = try FilterExpression.parse("") }
        expectBadRequest(field: "filter", mentioning: "empty field name") { _ = try FilterExpression.parse("=foo") }
        expectBadRequest(field: "filter", mentioning: "empty field name") { _ = try FilterExpression.parse("@>{a}") }
        expectBadRequest(field: "filter", mentioning: "'na-me=x'") { _ = try FilterExpression.parse("na-me=x") }
        expectBadRequest(field: "filter", mentioning: "after field 'na'") {
            _ = try FilterExpression.parse("na-me=x")
        }
        expectBadRequest(field: "filter", mentioning: "unexpected ' '") { _ = try FilterExpression.parse("name = x") }
        expectBadRequest(field: "filter", mentioning: "'@>' needs an array value") {
            _ = try FilterExpression.parse("tags@>foo")
        }
        expectBadRequest(field: "filter", mentioning: "'<@' needs an array value") {
            _ = try FilterExpression.parse("tags<@{a")
        }
        expectBadRequest(field: "filter", mentioning: "'&&' needs an array value") {
            _ = try FilterExpression.parse("tags&&")
        }
        expectBadRequest(field: "filter", mentioning: "unterminated") {
            _ = try FilterExpression.parse(#"tags@>{"a}"#)
        }
        expectBadRequest(field: "filter", mentioning: "empty array element") {
            _ = try FilterExpression.parse("tags@>{a,,b}")
        }
        expectBadRequest(field: "filter", mentioning: "empty array element") {
            _ = try FilterExpression.parse("tags@>{a,}")
        }
        expectBadRequest(field: "filter", mentioning: "after a quoted array element") {
            _ = try FilterExpression.parse(#"tags@>{"a"b}"#)
        }
        expectBadRequest(field: "filter", mentioning: "quote the element") {
            _ = try FilterExpression.parse("tags@>{a,{b}}")
        }
        expectBadRequest(field: "filter", mentioning: "quote the element") {
            _ = try FilterExpression.parse("id={a,{b}")
        }
    }

    @Test func combinesInterAndUnion() throws {
        #expect(try FilterExpression.parse([], union: false) == nil)
        #expect(try FilterExpression.parse([], union: true) == nil)
        #expect(try FilterExpression.parse(["id=1"], union: true) == condition("id", .equal, "1"))
        #expect(
            try FilterExpression.parse(["name~DHCP", "tags@>{a,b}", "active=true"], union: false)
                == .and([
                    condition("name", .regex, "DHCP"),
                    condition("tags", .arrayContains, ["a", "b"]),
                    condition("active", .equal, "true"),
                ])
        )
        #expect(
            try FilterExpression.parse(["id=1", "id=3"], union: true)
                == .or([condition("id", .equal, "1"), condition("id", .equal, "3")])
        )
        expectBadRequest(field: "filter", mentioning: "'bogus'") {
            _ = try FilterExpression.parse(["id=1", "bogus"], union: false)
        }
    }

    @Test func sortLists() {
        #expect(
            FilterExpression.parseSort("-created,+name,id")
                == [SortKey("created", descending: true), SortKey("name"), SortKey("id")]
        )
        #expect(FilterExpression.parseSort(",,-id, ,") == [SortKey("id", descending: true)])
        // `+name` after form decoding arrives as ` name`.
        #expect(
            FilterExpression.parseSort(" name,-created ") == [SortKey("name"), SortKey("created", descending: true)]
        )
        #expect(FilterExpression.parseSort("") == [])
        #expect(FilterExpression.parseSort("-,+") == [])
    }
}

// MARK: - DCI where / query / sort

@Suite struct DCIQueryTests {
    @Test func whereItems() throws {
        let tags: Set<String> = ["tags"]
        #expect(
            try DCIQuery.parseWhere("name:RHEL-9", arrayFields: tags) == condition("name", .equalIgnoringCase, "RHEL-9")
        )
        #expect(try DCIQuery.parseWhere("name:rhel*", arrayFields: tags) == condition("name", .contains, "rhel"))
        #expect(try DCIQuery.parseWhere("comment:", arrayFields: tags) == .predicate(.isNull("comment")))
        #expect(
            try DCIQuery.parseWhere("tags:daily", arrayFields: tags) == condition("tags", .arrayContains, ["daily"])
        )
        // Only a lone trailing star means "contains"; array fields take the value literally.
        #expect(
            try DCIQuery.parseWhere("name:*rhel*", arrayFields: tags) == condition("name", .equalIgnoringCase, "*rhel*")
        )
        #expect(
            try DCIQuery.parseWhere("name:rh*el", arrayFields: tags) == condition("name", .equalIgnoringCase, "rh*el")
        )
        #expect(try DCIQuery.parseWhere("tags:dai*", arrayFields: tags) == condition("tags", .arrayContains, ["dai*"]))
        #expect(try DCIQuery.parseWhere("tags:", arrayFields: tags) == .predicate(.isNull("tags")))
        #expect(try DCIQuery.parseWhere("name:*", arrayFields: tags) == condition("name", .contains, ""))
        // Split on the first colon only.
        #expect(
            try DCIQuery.parseWhere("url:http://host:8080/x", arrayFields: tags)
                == condition("url", .equalIgnoringCase, "http://host:8080/x")
        )
        #expect(try DCIQuery.parseWhere("", arrayFields: tags) == nil)
    }

    @Test func whereCombinesWithAndAndHonoursCSVQuotes() throws {
        #expect(
            try DCIQuery.parseWhere("status:success,name:foo*,tags:ocp,comment:", arrayFields: ["tags"])
                == .and([
                    condition("status", .equalIgnoringCase, "success"),
                    condition("name", .contains, "foo"),
                    condition("tags", .arrayContains, ["ocp"]),
                    .predicate(.isNull("comment")),
                ])
        )
        #expect(
            try DCIQuery.parseWhere(#""name:a,b",status:failure"#, arrayFields: [])
                == .and([
                    condition("name", .equalIgnoringCase, "a,b"), condition("status", .equalIgnoringCase, "failure"),
                ])
        )
        #expect(
            try DCIQuery.parseWhere(#""name:say ""hi""""#, arrayFields: [])
                == condition("name", .equalIgnoringCase, #"say "hi""#)
        )
        // A quote that does not open the item is an ordinary character, as in Python's csv.
        #expect(
            try DCIQuery.parseWhere(#"name:"x""#, arrayFields: []) == condition("name", .equalIgnoringCase, #""x""#)
        )
    }

    @Test func whereErrors() {
        expectBadRequest(field: "where", mentioning: "'name'") { _ = try DCIQuery.parseWhere("name", arrayFields: []) }
        expectBadRequest(field: "where", mentioning: "key:value") {
            _ = try DCIQuery.parseWhere("a:b,", arrayFields: [])
        }
        expectBadRequest(field: "where", mentioning: "':foo'") { _ = try DCIQuery.parseWhere(":foo", arrayFields: []) }
    }

    @Test func csvSplitting() {
        #expect(DCIQuery.splitCSV("a,b") == ["a", "b"])
        #expect(DCIQuery.splitCSV("a,") == ["a", ""])
        #expect(DCIQuery.splitCSV(#""a,b"c,d"#) == ["a,bc", "d"])
        #expect(DCIQuery.splitCSV(#""unterminated,x"#) == ["unterminated,x"])
        #expect(DCIQuery.splitCSV("") == [])
    }

    @Test func nestedQuery() throws {
        #expect(
            try DCIQuery.parseQuery("and(eq(status,success),or(like(name,%rhel%),null(comment)))")
                == .and([
                    condition("status", .equal, "success"),
                    .or([
                        condition("name", .like, "%rhel%"),
                        .or([.predicate(.isNull("comment")), condition("comment", .equal, "")]),
                    ]),
                ])
        )
        #expect(
            try DCIQuery.parseQuery("not(or(eq(a,1),and(ne(b,2),not(ilike(c,x%)))))")
                == .not(
                    .or([
                        condition("a", .equal, "1"),
                        .and([condition("b", .notEqual, "2"), .not(condition("c", .ilike, "x%"))]),
                    ])
                )
        )
    }

    static let comparisonCases: [(String, FilterOperator)] = [
        ("eq(status,success)", .equal),
        ("ne(status,success)", .notEqual),
        ("lt(status,success)", .less),
        ("le(status,success)", .lessOrEqual),
        ("gt(status,success)", .greater),
        ("ge(status,success)", .greaterOrEqual),
        ("like(status,success)", .like),
        ("ilike(status,success)", .ilike),
        ("contains(status,success)", .contains),
        ("not_contains(status,success)", .notContains),
    ]

    @Test(arguments: comparisonCases)
    func everyComparison(text: String, op: FilterOperator) throws {
        #expect(try DCIQuery.parseQuery(text) == condition("status", op, "success"))
    }

    @Test func valuesAndWhitespace() throws {
        #expect(
            try DCIQuery.parseQuery(" and ( eq( status , success ) ,\tne(name, foo bar ) ) ")
                == .and([condition("status", .equal, "success"), condition("name", .notEqual, "foo bar")])
        )
        #expect(
            try DCIQuery.parseQuery("eq(url,http://host.example:8080/a-b_c%20)")
                == condition("url", .equal, "http://host.example:8080/a-b_c%20")
        )
        #expect(try DCIQuery.parseQuery("and(eq(a,1))") == .and([condition("a", .equal, "1")]))
        #expect(
            try DCIQuery.parseQuery("or(eq(a,1),eq(a,2),eq(a,3))")
                == .or([condition("a", .equal, "1"), condition("a", .equal, "2"), condition("a", .equal, "3")])
        )
    }

    @Test func containsOnArrayFieldsIsArrayContainment() throws {
        #expect(
            try DCIQuery.parseQuery("contains(tags,daily)", arrayFields: ["tags"])
                == condition("tags", .arrayContains, ["daily"])
        )
        #expect(
            try DCIQuery.parseQuery("not_contains(tags,daily)", arrayFields: ["tags"])
                == .not(condition("tags", .arrayContains, ["daily"]))
        )
        #expect(
            try DCIQuery.parseQuery("contains(name,daily)", arrayFields: ["tags"])
                == condition("name", .contains, "daily")
        )
    }

    @Test func queryErrors() {
        expectBadRequest(field: "query", mentioning: "empty") { _ = try DCIQuery.parseQuery("  ") }
        expectBadRequest(field: "query", mentioning: "unknown function 'foo' at position 0") {
            _ = try DCIQuery.parseQuery("foo(a,b)")
        }
        expectBadRequest(field: "query", mentioning: "unknown function 'EQ'") { _ = try DCIQuery.parseQuery("EQ(a,b)") }
        expectBadRequest(field: "query", mentioning: "unknown function 'bogus' at position 4") {
            _ = try DCIQuery.parseQuery("and(bogus(a,b))")
        }
        expectBadRequest(field: "query", mentioning: "expected ')'") { _ = try DCIQuery.parseQuery("eq(a,b") }
        expectBadRequest(field: "query", mentioning: "expected ','") { _ = try DCIQuery.parseQuery("eq(a)") }
        expectBadRequest(field: "query", mentioning: "expected '('") { _ = try DCIQuery.parseQuery("eq") }
        expectBadRequest(field: "query", mentioning: "expected a value") { _ = try DCIQuery.parseQuery("eq(a,)") }
        expectBadRequest(field: "query", mentioning: "expected a value") { _ = try DCIQuery.parseQuery("eq(a,  )") }
        expectBadRequest(field: "query", mentioning: "expected a field name") { _ = try DCIQuery.parseQuery("eq(,b)") }
        expectBadRequest(field: "query", mentioning: "''' at position 5") { _ = try DCIQuery.parseQuery("eq(a,'b')") }
        expectBadRequest(field: "query", mentioning: "'.' at position 4") { _ = try DCIQuery.parseQuery("eq(a.b,c)") }
        expectBadRequest(field: "query", mentioning: "and(...)") { _ = try DCIQuery.parseQuery("eq(a,b),eq(c,d)") }
        expectBadRequest(field: "query", mentioning: "after the end") { _ = try DCIQuery.parseQuery("eq(a,b)x") }
        expectBadRequest(field: "query", mentioning: "exactly one condition") {
            _ = try DCIQuery.parseQuery("not(eq(a,b),eq(c,d))")
        }
        expectBadRequest(field: "query", mentioning: "but found ')'") { _ = try DCIQuery.parseQuery("and()") }
        expectBadRequest(field: "query", mentioning: "expected ')'") { _ = try DCIQuery.parseQuery("null(a,b)") }
        let deep = String(repeating: "not(", count: 100) + "eq(a,b)" + String(repeating: ")", count: 100)
        expectBadRequest(field: "query", mentioning: "deeper than") { _ = try DCIQuery.parseQuery(deep) }
    }

    @Test func sort() {
        #expect(
            DCIQuery.parseSort("-created_at,name") == [SortKey("created_at", descending: true), SortKey("name")]
        )
        #expect(DCIQuery.parseSort(#""-id",,name"#) == [SortKey("id", descending: true), SortKey("name")])
        #expect(DCIQuery.parseSort("") == [])
    }
}

// MARK: - KernelCI GET parameters

@Suite struct KernelCIQueryTests {
    /// 2024-05-01T12:34:56Z.
    static let now: Int64 = 1_714_566_896_000_000
    static let keys: Set<String> = ["job", "kernel", "status", "git_branch", "retries", "created_on", "_id"]

    static func midnight(_ year: Int, _ month: Int, _ day: Int) -> Int64 {
        (Timestamp.civil(year: year, month: month, day: day, hour: 0, minute: 0, second: 0) ?? 0) * 1_000_000
    }

    static func window(from: Int64?, to: Int64?) -> TimeWindow {
        TimeWindow(field: "created_at", from: from, to: to)
    }

    func parse(_ params: [(String, String)]) -> KernelCIQuery.Parsed {
        KernelCIQuery.parse(params, filterKeys: Self.keys, now: Self.now)
    }

    @Test func fixedClockIsWhatTheTestsAssume() {
        #expect(Self.midnight(2024, 5, 1) == 1_714_521_600_000_000)
        #expect(Self.now - Self.midnight(2024, 5, 1) == (12 * 3600 + 34 * 60 + 56) * 1_000_000)
    }

    @Test func noParametersMeansDefaults() {
        #expect(parse([]) == KernelCIQuery.Parsed())
        #expect(parse([("unknown", "x"), ("aggregate", "job")]) == KernelCIQuery.Parsed())
    }

    @Test func filtersRepeatsAndNull() {
        let parsed = parse([
            ("status", "PASS"), ("kernel", "v6.1"), ("status", "FAIL"), ("job", "null"), ("unknown", "x"),
            ("git_branch", ""), ("_id", " 42 "),
        ])
        #expect(
            parsed.filter
                == .and([
                    condition("status", .in, ["PASS", "FAIL"]),
                    condition("kernel", .equal, "v6.1"),
                    .predicate(.isNull("job")),
                    condition("_id", .equal, "42"),
                ])
        )
        #expect(parse([("job", "null"), ("job", "null")]).filter == .predicate(.isNull("job")))
        #expect(parse([("job", "null"), ("job", "mainline")]).filter == condition("job", .in, ["null", "mainline"]))
        #expect(parse([("kernel", "v6.1")]).filter == condition("kernel", .equal, "v6.1"))
        #expect(parse([("git_branch", "")]).filter == nil)
    }

    @Test func gteAndLtBounds() {
        let parsed = parse([
            ("gte", "retries,2"), ("lt", "retries,5"), ("gte", "retries,3"), ("gte", "unknown,1"), ("lt", "bad"),
            ("lt", "retries,1,2"), ("gte", "kernel,"), ("status", "PASS"),
        ])
        #expect(
            parsed.filter
                == .and([
                    condition("status", .equal, "PASS"),
                    condition("retries", .greaterOrEqual, "3"),
                    condition("retries", .less, "5"),
                ])
        )
    }

    @Test func createdOnIsADayNotAFilter() {
        let day = Self.window(from: Self.midnight(2024, 4, 20), to: Self.midnight(2024, 4, 21))
        #expect(parse([("created_on", "2024-04-20")]) == KernelCIQuery.Parsed(window: day))
        #expect(parse([("created_on", "20240420")]).window == day)
        #expect(parse([("created_on", "2023-01-01"), ("created_on", "2024-04-20")]).window == day)
        #expect(
            parse([("created_on", "2024-12-31")]).window
                == Self.window(from: Self.midnight(2024, 12, 31), to: Self.midnight(2025, 1, 1))
        )
        #expect(parse([("created_on", "2024-02-29")]).window?.from == Self.midnight(2024, 2, 29))
        for bad in ["2023-02-29", "2024-02-30", "2024-13-01", "2024-00-10", "24-04-20", "2024/04/20", "yesterday", ""] {
            #expect(parse([("created_on", bad)]).window == nil, "\(bad)")
        }
    }

    @Test func dateRange() {
        let endOfToday = Self.midnight(2024, 5, 2)
        #expect(parse([("date_range", "3")]).window == Self.window(from: Self.midnight(2024, 4, 28), to: endOfToday))
        #expect(parse([("date_range", "-3")]).window == Self.window(from: Self.midnight(2024, 4, 28), to: endOfToday))
        #expect(parse([("date_range", "0")]).window == Self.window(from: Self.midnight(2024, 5, 1), to: endOfToday))
        // A bad number means 5 days.
        #expect(parse([("date_range", "abc")]).window == Self.window(from: Self.midnight(2024, 4, 26), to: endOfToday))
        #expect(parse([("date_range", "")]).window == Self.window(from: Self.midnight(2024, 4, 26), to: endOfToday))
        #expect(
            parse([("date_range", "1000000000")]).window
                == Self.window(from: Self.midnight(2024, 4, 26), to: endOfToday)
        )
        // The last value wins.
        #expect(
            parse([("date_range", "9"), ("date_range", "1")]).window
                == Self.window(from: Self.midnight(2024, 4, 30), to: endOfToday)
        )
        // Combined with created_on, the range ends with that day.
        #expect(
            parse([("created_on", "2024-04-10"), ("date_range", "2")]).window
                == Self.window(from: Self.midnight(2024, 4, 8), to: Self.midnight(2024, 4, 11))
        )
        // An invalid created_on falls back to today.
        #expect(
            parse([("created_on", "nope"), ("date_range", "2")]).window
                == Self.window(from: Self.midnight(2024, 4, 29), to: endOfToday)
        )
        // So many days that the start precedes what Int64 microseconds can hold: no lower bound.
        #expect(parse([("date_range", "999999999")]).window == Self.window(from: nil, to: endOfToday))
    }

    @Test func timeRangeClampsAndOverrides() {
        let minute: Int64 = 60_000_000
        func range(_ minutes: Int64) -> TimeWindow { Self.window(from: Self.now - minutes * minute, to: Self.now) }
        #expect(parse([("time_range", "30")]).window == range(30))
        #expect(parse([("time_range", "-30")]).window == range(30))
        #expect(parse([("time_range", "5")]).window == range(10))
        #expect(parse([("time_range", "10")]).window == range(10))
        #expect(parse([("time_range", "1440")]).window == range(1440))
        #expect(parse([("time_range", "5000")]).window == range(1440))
        #expect(parse([("time_range", "-9223372036854775808")]).window == range(1440))
        #expect(parse([("time_range", "x")]).window == range(60))
        #expect(parse([("time_range", "")]).window == range(60))
        #expect(parse([("time_range", "100"), ("time_range", "20")]).window == range(20))
        #expect(
            parse([("created_on", "2024-04-10"), ("date_range", "3"), ("time_range", "15")]).window == range(15)
        )
    }

    @Test func sortOrderAppliesToEveryKey() {
        let desc = [SortKey("created_on", descending: true), SortKey("job", descending: true)]
        let asc = [SortKey("created_on"), SortKey("job")]
        #expect(parse([("sort", "created_on"), ("sort", "job")]).sort == desc)
        #expect(parse([("sort", "created_on"), ("sort_order", "1"), ("sort", "job")]).sort == asc)
        #expect(parse([("sort", "created_on"), ("sort", "job"), ("sort_order", "-1")]).sort == desc)
        #expect(parse([("sort", "created_on"), ("sort", "job"), ("sort_order", "2")]).sort == desc)
        #expect(parse([("sort", "created_on"), ("sort", "job"), ("sort_order", "up")]).sort == desc)
        #expect(
            parse([("sort", "created_on"), ("sort", "job"), ("sort_order", "1"), ("sort_order", "x")]).sort == desc
        )
        #expect(parse([("sort_order", "1")]).sort == [])
        #expect(parse([("sort", ""), ("sort", "job"), ("sort_order", "1")]).sort == [SortKey("job")])
    }

    @Test func limitSkipAndProjection() {
        #expect(parse([("limit", "10"), ("limit", "20"), ("skip", "5")]).limit == 20)
        #expect(parse([("limit", "10"), ("limit", "20"), ("skip", "5")]).skip == 5)
        #expect(parse([("limit", "10"), ("limit", "bad")]).limit == 0)
        #expect(parse([("limit", " 7 ")]).limit == 7)
        #expect(parse([("limit", "-7")]).limit == 7)
        #expect(parse([("skip", "-3")]).skip == 0)
        #expect(parse([("skip", "x")]).skip == 0)

        let projected = parse([
            ("field", "job"), ("field", "kernel"), ("field", "job"), ("nfield", "_id"), ("field", ""),
        ])
        #expect(projected.fields == ["job", "kernel"])
        #expect(projected.excludedFields == ["_id"])
        #expect(parse([("nfield", "log"), ("nfield", "log")]) == KernelCIQuery.Parsed(excludedFields: ["log"]))
    }

    @Test func everythingTogether() {
        let parsed = parse([
            ("job", "mainline"), ("status", "FAIL"), ("date_range", "1"), ("sort", "created_on"), ("sort_order", "1"),
            ("limit", "50"), ("skip", "100"), ("field", "job"), ("nfield", "_id"), ("callback", "x"),
        ])
        #expect(
            parsed
                == KernelCIQuery.Parsed(
                    filter: .and([condition("job", .equal, "mainline"), condition("status", .equal, "FAIL")]),
                    sort: [SortKey("created_on")],
                    limit: 50,
                    skip: 100,
                    fields: ["job"],
                    excludedFields: ["_id"],
                    window: Self.window(from: Self.midnight(2024, 4, 30), to: Self.midnight(2024, 5, 2))
                )
        )
    }
}

// MARK: - XPRESSO search body

@Suite struct XpressoSearchTests {
    @Test func singleKey() throws {
        #expect(
            try XpressoSearch.parse(.object(["name": .array([.string("bgp"), .string("ospf")])]))
                == condition("name", .in, ["bgp", "ospf"])
        )
        #expect(try XpressoSearch.parse(.object(["id": .string("REQ0001")])) == condition("id", .in, ["REQ0001"]))
        #expect(
            try XpressoSearch.parse(.object(["group": .array([.string("core")])]))
                == condition("group_name", .in, ["core"])
        )
        #expect(
            try XpressoSearch.parse(.object(["tags": .array([.string("a"), .string("b")])]))
                == condition("tags", .arrayOverlaps, ["a", "b"])
        )
    }

    @Test func allKeysAreAndedInAFixedOrder() throws {
        let body = JSONValue.object([
            "tags": .array([.string("nightly")]),
            "group": .string("core"),
            "name": .array([.string("a"), .string("b")]),
            "id": .array([.string("1")]),
        ])
        #expect(
            try XpressoSearch.parse(body)
                == .and([
                    condition("id", .in, ["1"]),
                    condition("name", .in, ["a", "b"]),
                    condition("group_name", .in, ["core"]),
                    condition("tags", .arrayOverlaps, ["nightly"]),
                ])
        )
    }

    @Test func errors() {
        expectBadRequest(field: nil, mentioning: "JSON object") { _ = try XpressoSearch.parse(.array([.string("a")])) }
        expectBadRequest(field: nil, mentioning: "JSON object") { _ = try XpressoSearch.parse(.string("name")) }
        expectBadRequest(field: nil, mentioning: "JSON object") { _ = try XpressoSearch.parse(.null) }
        expectBadRequest(field: nil, mentioning: "names no search key") { _ = try XpressoSearch.parse(.object([:])) }
        expectBadRequest(field: "tags", mentioning: "at least one string") {
            _ = try XpressoSearch.parse(.object(["tags": .array([])]))
        }
        expectBadRequest(field: "id", mentioning: "only strings") {
            _ = try XpressoSearch.parse(.object(["id": .array([.string("1"), .number(2)])]))
        }
        expectBadRequest(field: "id", mentioning: "a string or a list of strings") {
            _ = try XpressoSearch.parse(.object(["id": .number(5)]))
        }
        expectBadRequest(field: "name", mentioning: "a string or a list of strings") {
            _ = try XpressoSearch.parse(.object(["name": .null]))
        }
        expectBadRequest(field: "group", mentioning: "a string or a list of strings") {
            _ = try XpressoSearch.parse(.object(["group": .object(["x": .string("y")])]))
        }
    }

    @Test func unknownKeysAreNamed() {
        let error = thrownError {
            _ = try XpressoSearch.parse(.object(["name": .string("a"), "owner": .string("me")]))
        }
        #expect(error?.code == .badRequest)
        #expect(error?.field == "owner")
        #expect(error?.message.contains("'owner'") == true)
        #expect(error?.details["valid"] == ["id", "name", "group", "tags"])
    }
}

// MARK: - DCI job search (`/analytics/jobs?query=`)

@Suite struct DCIAnalyticsQueryTests {
    @Test func andBindsTighterThanOrAndParenthesesGroup() throws {
        #expect(
            try DCIAnalyticsQuery.parse("(name='a') and (team.name='t') or (name='b')")
                == .or([
                    .and([condition("name", .equal, "a"), condition("team.name", .equal, "t")]),
                    condition("name", .equal, "b"),
                ])
        )
        #expect(
            try DCIAnalyticsQuery.parse("((name='a') or (name='b')) and (duration>=10)")
                == .and([
                    .or([condition("name", .equal, "a"), condition("name", .equal, "b")]),
                    condition("duration", .greaterOrEqual, "10"),
                ])
        )
        // An unparenthesised condition, a value with spaces and brackets, a field named like a keyword's prefix.
        #expect(try DCIAnalyticsQuery.parse("order != 'a b [c]'") == condition("order", .notEqual, "a b [c]"))
    }

    @Test func operatorsMeanWhatElasticsearchMakesOfThem() throws {
        let arrays: Set<String> = ["tags"]
        #expect(
            try DCIAnalyticsQuery.parse("(components.version=~'4.19.*')")
                == condition("components.version", .regexIgnoringCase, "^(?:4.19.*)$")
        )
        #expect(
            try DCIAnalyticsQuery.parse("(tags in ['a', 'b']) or (tags not_in ['c'])", arrayFields: arrays)
                == .or([
                    condition("tags", .arrayOverlaps, ["a", "b"]),
                    .not(condition("tags", .arrayOverlaps, ["c"])),
                ])
        )
        #expect(
            try DCIAnalyticsQuery.parse("(tags='a') and (tags!='b')", arrayFields: arrays)
                == .and([condition("tags", .arrayContains, "a"), .not(condition("tags", .arrayContains, "b"))])
        )
        #expect(try DCIAnalyticsQuery.parse("status in ['success']") == condition("status", .in, ["success"]))
        #expect(try DCIAnalyticsQuery.parse("duration < -1.5") == condition("duration", .less, "-1.5"))
    }

    @Test func errorsNamePositions() {
        for (text, reason) in [
            ("", "invalid query: the query is empty"),
            ("(name='x'", "invalid query '(name='x'': expected ')' after a condition but found the end of the query"),
            ("name='x' (", "invalid query 'name='x' (': unexpected '(' at position 9; expected 'and' or 'or'"),
            (
                "name == 'x'",
                "invalid query 'name == 'x'': expected one of = != < <= > >= =~ in not_in after 'name' but found '=' at position 5"
            ),
            (
                "tags in []",
                "invalid query 'tags in []': expected a quoted value in the list but found ']' at position 9"
            ),
            (
                "name='x",
                "invalid query 'name='x': expected ''' after the value starting at position 5 but found the end of the query"
            ),
        ] {
            #expect(throws: ProctorError.badRequest(reason, field: "query"), "\(text)") {
                try DCIAnalyticsQuery.parse(text)
            }
        }
    }
}
