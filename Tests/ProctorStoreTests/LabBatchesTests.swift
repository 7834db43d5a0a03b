import Foundation
import ProctorCore
import ProctorStore
import ProctorTestSupport
import Testing

/// `proctor apply` of a lab larger than the server's body limit (#21): the lab cut into batches under a size, each
/// applied on its own in order, ends as the whole lab applied at once.
@Suite struct LabBatchesTests {
    /// A lab whose every section names resources of the sections before it, with long descriptions that make it
    /// many times the batch size used below.
    static func lab(_ count: Int) -> JSONValue {
        let padding = JSONValue.string(String(repeating: "x", count: 300))
        func many(_ make: (Int) -> [String: JSONValue]) -> JSONValue { .array((0..<count).map { .object(make($0)) }) }
        return .object([
            "groups": many { ["name": .string("g\($0)"), "description": padding] },
            "users": many { ["name": .string("u\($0)"), "groups": .object(["g\($0)": .string("admin")])] },
            "tokens": many {
                [
                    "user": .string("u\($0)"), "name": .string("t\($0)"),
                    "value": .string("pt_lab_batches_token_\($0)_xx"),
                ]
            },
            "harnesses": many { ["group": .string("g\($0)"), "name": .string("h"), "harness": .string("shell")] },
            "engines": many { ["group": .string("g\($0)"), "name": .string("local"), "type": .string("local")] },
            "testbeds": many { ["group": .string("g\($0)"), "name": .string("tb")] },
            "configs": many { ["group": .string("g\($0)"), "name": .string("cfg"), "description": padding] },
            "products": many { ["group": .string("g\($0)"), "name": .string("p")] },
            "topics": many { ["group": .string("g\($0)"), "name": .string("t"), "product": .string("p")] },
            "components": many { ["group": .string("g\($0)"), "name": .string("c"), "topic": .string("t")] },
            "jobs": many {
                [
                    "group": .string("g\($0)"), "name": .string("job\($0)"), "harness": .string("shell"),
                    "job_file": .string("echo \($0)"), "description": padding,
                    "profiles": .array([
                        .object([
                            "name": .string("DEFAULT"), "engine": .string("local"), "testbeds": .array([.string("tb")]),
                            "harnesses": .array([.string("h")]),
                        ])
                    ]),
                ]
            },
            "bundles": many {
                ["group": .string("g\($0)"), "name": .string("b"), "profiles": .array([.string("job\($0)/DEFAULT")])]
            },
        ])
    }

    @Test(arguments: Backend.available)
    func batchesUnderTheLimitApplyTheWholeLab(_ backend: Backend) async throws {
        let document = Self.lab(20)
        let lab = try LabBatches(document)
        #expect(lab.items.count == 20 * 12)
        #expect(lab.items.map(\.section).first == "groups" && lab.items.map(\.section).last == "bundles")
        let maxBytes = 4096
        let ranges = try lab.batches(maxBytes: maxBytes, maxItems: 50)
        #expect(ranges.count > 5)
        #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == lab.items.count)
        for (range, next) in zip(ranges, ranges.dropFirst()) { #expect(range.upperBound == next.lowerBound) }
        for range in ranges {
            #expect(range.count <= 50)
            #expect(lab.document(range).encodedBytes().count <= maxBytes)
        }
        try await withStore(backend) { store in
            var changes: [LabApplier.Change] = []
            for range in ranges { changes += try await LabApplier(store: store).apply(lab.document(range)) }
            #expect(changes.allSatisfy { $0.action == .created })
            // 12 items and a membership and a profile per group.
            #expect(changes.count == 20 * 14)
            let again = try await LabApplier(store: store).apply(document)
            #expect(again.count == changes.count)
            #expect(again.allSatisfy { $0.action == .unchanged })
            #expect(Set(again.map(\.id)) == Set(changes.map(\.id)))
        }
    }

    @Test func anItemLargerThanTheLimitAndMessagesOfABatch() throws {
        let big = JSONValue.object([
            "groups": .array([.object(["name": .string("a")]), .object(["name": .string("b")])]),
            "configs": .array([
                .object(["name": .string("c"), "description": .string(String(repeating: "y", count: 2000))])
            ]),
        ])
        let lab = try LabBatches(big)
        #expect(try lab.batch(from: 0, maxBytes: 1024) == 0..<2)
        #expect(throws: ProctorError.self) { try lab.batch(from: 2, maxBytes: 1024) }
        // The second batch's groups[0] is the document's groups[1].
        #expect(lab.locating("groups[0]: 'name' is required", in: 1..<2) == "groups[1]: 'name' is required")
        #expect(lab.locating("no such group: x", in: 1..<2) == "no such group: x")
        #expect(throws: ProctorError.self) { try LabBatches(.object(["gropus": .array([])])) }
    }
}
