/// What a launch may set on the run it creates: values for the launch parameters its job definition declares,
/// never a command.
///
/// A run's options are built by the core from the job definition and its profile, which only a group admin edits:
/// the command or job file, the harness, interpreter paths, the environment. A launch (native API, dashboard,
/// CDRouter, XPRESSO) adds values for what the definition declares as launch parameters:
/// - a job arg of the definition's `args` (XPRESSO's `{name, code_name, immutable, flag, default_value}`), by
///   `name` or `code_name`, unless it is `immutable`; its value replaces the profile's job arg of that name;
/// - an envarg of the profile's `envargs`, by `name`; its value replaces the profile's.
///
/// Anything else is a 400 naming it. A door that turns its own documented fields into run inputs (CDRouter's job
/// options) passes them as harness inputs, limited to ``harnessInputKeys``.
public enum LaunchParameters {
    /// Keys a door may put in a run's options from its own validated fields; the harness adapters read them as data.
    public static let harnessInputKeys: Set<String> = ["cdrouter", "cdrouter_target"]

    /// Options only the server sets (an image build's writable output folder, and its tarball the run keeps as a
    /// file); a job definition's `config` cannot, or a group admin could open the data directory to a job, or
    /// have the executor upload any file of its host as a run's file.
    public static let serverOnlyKeys: Set<String> = ["writable_paths", "image_build_id", "kept_files"]

    /// Where the values a launch gave are kept on the run (a relaunch gives them again).
    public static let recordKey = "parameters"

    /// The names a definition and profile declare, for error messages and documentation.
    public static func declared(definition: Definition, profile: Profile?) -> [String] {
        var names: [String] = []
        for arg in definition.json(.args)?.arrayValue ?? [] where arg["immutable"] != .bool(true) {
            if let name = arg["name"]?.stringValue { names.append(name) }
        }
        for envarg in profile?.json(.envargs)?.arrayValue ?? [] {
            if let name = envarg["name"]?.stringValue { names.append(name) }
        }
        return names
    }

    /// Applies a launch's parameter values to the options built from the definition and profile.
    ///
    /// - Throws: 400 for a name the definition does not declare, an immutable arg, or a value that is not a
    ///   string, number or boolean.
    public static func apply(
        _ values: [String: JSONValue],
        definition: Definition,
        profile: Profile?,
        to options: inout [String: JSONValue]
    ) throws {
        guard !values.isEmpty else { return }
        let args = definition.json(.args)?.arrayValue ?? []
        let envargNames = Set((profile?.json(.envargs)?.arrayValue ?? []).compactMap { $0["name"]?.stringValue })
        let job = definition.name ?? definition.id
        var jobargs = options["jobargs"]?.arrayValue ?? []
        var envargs = options["envargs"]?.arrayValue ?? []
        for (key, value) in values.sorted(by: { $0.key < $1.key }) {
            let field = "options.\(key)"
            switch value {
            case .string, .number, .bool: break
            default: throw ProctorError.badRequest("\(field) must be a string, a number or a boolean", field: field)
            }
            if let arg = args.first(where: { $0["name"]?.stringValue == key || $0["code_name"]?.stringValue == key }) {
                if arg["immutable"] == .bool(true) {
                    throw ProctorError.badRequest(
                        "\(field) is immutable in job '\(job)'; only its definition can change it",
                        field: field
                    )
                }
                let name = arg["name"]?.stringValue ?? key
                let flag = arg["flag"] == .bool(true)
                jobargs.removeAll { $0["name"]?.stringValue == name }
                if flag {
                    // A flag is given or not: true (or "true") gives it.
                    if value == .bool(true) || value.stringValue == "true" {
                        jobargs.append(.object(["name": .string(name), "flag": .bool(true)]))
                    }
                } else {
                    jobargs.append(.object(["name": .string(name), "value": value, "flag": .bool(false)]))
                }
            } else if envargNames.contains(key) {
                envargs = envargs.map { item in
                    guard item["name"]?.stringValue == key, case .object(var object) = item else { return item }
                    object["value"] = value
                    return .object(object)
                }
            } else {
                let declared = declared(definition: definition, profile: profile)
                throw ProctorError.badRequest(
                    "\(field) is not a launch parameter of job '\(job)'"
                        + (declared.isEmpty
                            ? "; it declares none" : "; it declares: \(declared.joined(separator: ", "))"),
                    field: field,
                    details: ["valid": declared]
                )
            }
        }
        options["jobargs"] = .array(jobargs)
        options["envargs"] = .array(envargs)
        options[recordKey] = .object(values)
    }

    /// Checks what a door passes as harness inputs.
    public static func checkHarnessInputs(_ inputs: [String: JSONValue]) throws {
        for key in inputs.keys where !harnessInputKeys.contains(key) {
            throw ProctorError(
                .internal,
                "a door passed '\(key)' as a harness input; only \(harnessInputKeys.sorted()) are inputs"
            )
        }
    }
}
