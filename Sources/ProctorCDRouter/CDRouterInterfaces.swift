import ProctorCore
import ProctorHTTPKit

/// The interfaces a CDRouter job uses, as `cdrouter-cli -print-interfaces` reports them: the device's interfaces,
/// with the main LAN interface set by the job's `lanInterface` testvar when it has one (from the config, the
/// job's `testvars`, or `-testvar lanInterface=eth2` in `extra_cli_args`, as in the API docs' example).
enum CDRouterInterfaces {
    /// The testvar naming the interface CDRouter's main LAN is on.
    static let lanTestvar = "lanInterface"

    /// `runOptions` are a run's options, or a launch's before it is made (`cdrouter` and `cdrouter_target`).
    /// Throws when an `extra_cli_args` cannot be read (an unterminated quote).
    static func interfaces(testbed: Record?, config: Record?, runOptions: [String: JSONValue]) throws -> [JSONValue] {
        var interfaces = CDRouterRender.interfaces(testbed)
        let testvars = try CDRouterCommand.testvars(runOptions, configContents: config?.string("contents") ?? "")
        guard let lan = testvars[lanTestvar], !lan.isEmpty else { return interfaces }
        if let wired = interfaces.firstIndex(where: { $0["is_wireless"] != .bool(true) }) {
            var entry = interfaces[wired].objectValue ?? [:]
            entry["value"] = .string(lan)
            interfaces[wired] = .object(entry)
        } else {
            interfaces.insert(
                .object(["value": .string(lan), "is_wireless": .bool(false), "is_ics": .bool(false)]),
                at: 0
            )
        }
        return interfaces
    }
}
