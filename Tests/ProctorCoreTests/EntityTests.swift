import ProctorCore
import Testing

/// The typed entities and the schema the store keeps are one vocabulary: every entity's field enum names
/// exactly its kind's stored fields, so code that reads a run through `Run` cannot name a field the store lacks.
@Suite struct EntityTests {
    @Test(arguments: ResourceKind.allCases)
    func fieldEnumNamesExactlyTheSchemaFields(kind: ResourceKind) {
        let entity = kind.entityType
        #expect(entity.kind == kind)
        #expect(entity.fieldNames == kind.schema.fields.map(\.name))
    }

    /// A kind finds its schema by its ordinal: a case added out of order would read another kind's schema.
    @Test func everyKindsOrdinalFindsItsOwnSchema() {
        #expect(ResourceKind.allCases.map(\.ordinal) == Array(0..<ResourceKind.allCases.count))
        for kind in ResourceKind.allCases {
            #expect(kind.schema.kind == kind)
            #expect(kind.schema === kind.schema)
        }
    }

    /// A slot resolved once reads what the field's name reads: the value, null where the row lacks it, nil for the
    /// optional read (a page of jobs is rendered through slots, each field looked up once per page).
    @Test func aFieldSlotReadsWhatItsNameReads() {
        let run = Run([.status: .string("running"), .tags: .strings(["a", "b"]), .reason: .null])
        for field in Run.Field.allCases {
            let slot = Run.slot(field)
            #expect(slot.kind == .runs)
            #expect(slot.position == ResourceKind.runs.schema.position(of: field.rawValue))
            #expect(run.record[slot] == run.record[field.rawValue])
            #expect(run.record[optional: slot] == run.record.value(field.rawValue))
        }
        #expect(run.record[optional: Run.slot(.reason)] == .null)
        #expect(run.record[optional: Run.slot(.comment)] == nil)
        #expect(run.record[Run.slot(.comment)] == .null)
        #expect(run.record[Run.slot(.tags)] == .strings(["a", "b"]))
    }

    @Test func aRecordOfAnotherKindIsNotTheEntity() {
        #expect(Run(Record(.profiles, ["name": .string("p")])) == nil)
        #expect(Run(nil) == nil)
        let run = Run(Record(.runs, ["status": .string("running")]))
        #expect(run?.status == .running)
    }

    @Test func typedAccessorsReadAndWriteTheRecord() {
        var run = Run([
            .status: .string("post-run"), .executor: .string("agent"), .attempts: .int(2),
            .labels: .json(.object(["branch": .string("main"), "n": .number(1)])),
            .options: .json(.object(["job_file": .string("a.sh")])), .cancelRequested: .bool(true),
        ])
        #expect(run.record.kind == .runs)
        #expect(run.status == .postRun)
        #expect(run.executor == .agent)
        #expect(run.attempts == 2)
        #expect(run.cancelRequested)
        #expect(run.labels == ["branch": "main"])
        #expect(run.options["job_file"] == .string("a.sh"))
        #expect(run.priority == 4)
        #expect(run.testbedID == nil)
        run.status = .success
        #expect(run.record["status"] == .string("success"))
        run[.reason] = .string("done")
        #expect(run.record.string("reason") == "done")
        #expect(Run.changes([.status: .string("new")]) == ["status": .string("new")])
    }

    @Test func anUnknownStoredStatusReadsAsNew() {
        #expect(Run(Record(.runs, ["status": .string("paused")]))?.status == .new)
        #expect(Run(Record(.runs, ["executor": .string("mainframe")]))?.executor == nil)
    }

    /// Security checks read these: a row read without the field (a projection, a row from an older schema) must
    /// never count as an active account or a live token.
    @Test func credentialChecksAreStrictAboutMissingFields() {
        #expect(User(Record(.users, [:]))?.isActive == false)
        #expect(User(Record(.users, ["state": .string("disabled")]))?.isActive == false)
        #expect(User(Record(.users, ["state": .string("active")]))?.isActive == true)
        #expect(Token(Record(.tokens, [:]))?.isRevoked == true)
        #expect(Token(Record(.tokens, ["revoked": .bool(false)]))?.isRevoked == false)
        #expect(RemoteCI(Record(.remotecis, [:]))?.isActive == false)
    }

    @Test func pairsAndDictionariesBuildTheSameRow() {
        let fromPairs = TestResult(pairs: [.name: .string("t"), .status: .string("passed"), .time: .double(1.5)])
        let fromDictionary = TestResult([.name: .string("t"), .status: .string("passed"), .time: .double(1.5)])
        #expect(fromPairs == fromDictionary)
        #expect(fromPairs.record.values == ["name": .string("t"), "status": .string("passed"), "time": .double(1.5)])
    }
}
