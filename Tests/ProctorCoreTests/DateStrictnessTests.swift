import Foundation
import ProctorCore
import Testing

/// Every date a door parses goes through one strict check (``Timestamp/civil(year:month:day:hour:minute:second:)``):
/// a day that its month does not have, an hour past 23 or a minute or second past 59 is no date, never a later one.
@Suite struct DateStrictnessTests {
    static let impossible = [
        "2026-02-29", "2026-02-30", "2026-02-31", "2026-04-31", "2026-06-31", "2026-09-31", "2026-11-31", "1900-02-29",
        "2100-02-29", "2026-13-01", "2026-00-10", "2026-01-00", "2026-01-32",
        "20260231", "20261301",
        "2026-02-31T00:00:00Z", "2026-04-31T12:00:00", "2026-01-01T24:00:00Z", "2026-01-01T25:00:00Z",
        "2026-01-01T12:60:00Z", "2026-01-01T12:00:60Z", "2026-01-01T12:00:61Z", "2026-01-01 24:00:00",
        "2026-01-01T12:00:00+24:00", "2026-01-01T12:00:00+05:60", "2026-02-30T10:00:00.123456+02:00",
    ]

    static let possible: [(String, String)] = [
        ("2024-02-29", "2024-02-29T00:00:00.000000Z"),
        ("2000-02-29", "2000-02-29T00:00:00.000000Z"),
        ("20240229", "2024-02-29T00:00:00.000000Z"),
        ("2026-04-30", "2026-04-30T00:00:00.000000Z"),
        ("2026-12-31T23:59:59Z", "2026-12-31T23:59:59.000000Z"),
        ("2026-01-31T00:00:00.5+01:00", "2026-01-30T23:00:00.500000Z"),
        ("2026-03-01T23:59:59-23:59", "2026-03-02T23:58:59.000000Z"),
        ("2026-02-28 12:00:00", "2026-02-28T12:00:00.000000Z"),
    ]

    @Test(arguments: impossible)
    func impossibleDatesAreNoDates(_ text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    @Test(arguments: possible)
    func realDatesStillParse(_ text: String, _ expected: String) throws {
        let micros = try #require(Timestamp.parse(text))
        #expect(Timestamp.rfc3339(micros: micros) == expected)
    }

    @Test func civilKnowsEachMonthsLength() {
        let lengths = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        for (index, length) in lengths.enumerated() {
            let month = index + 1
            #expect(Timestamp.civil(year: 2026, month: month, day: length, hour: 0, minute: 0, second: 0) != nil)
            #expect(Timestamp.civil(year: 2026, month: month, day: length + 1, hour: 0, minute: 0, second: 0) == nil)
        }
        #expect(Timestamp.daysIn(month: 2, year: 2024) == 29)
        #expect(Timestamp.daysIn(month: 2, year: 1900) == 28)
        #expect(Timestamp.daysIn(month: 2, year: 2000) == 29)
        #expect(Timestamp.civil(year: 2026, month: 1, day: 1, hour: 23, minute: 59, second: 59) == 1_767_311_999)
    }
}
