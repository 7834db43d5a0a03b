import Foundation

/// A component's `display_name` and `version` when its creator gives only a name: every way a component is
/// created (the DCI API, `proctor apply`) fills them alike, so filters on them find every component.
public enum ComponentNaming {
    /// The version DCI reads from a component name without one: what follows `RHEL-` or `RHOS-`, else what
    /// follows the last of the first delimiter among `:`, `@` and space; else empty.
    public static func version(fromName name: String) -> String {
        for prefix in ["RHOS-", "RHEL-"] {
            if let range = name.range(of: prefix, options: .backwards) { return String(name[range.upperBound...]) }
        }
        guard let delimiter = [":", "@", " "].first(where: { name.contains($0) }),
            let range = name.range(of: delimiter, options: .backwards)
        else { return "" }
        return String(name[range.upperBound...])
    }

    /// Sets `display_name` to the name and `version` to the one read from it, where they are missing or empty.
    public static func fillDefaults(_ values: inout [String: Value], name: String) {
        if values["display_name"]?.stringValue?.isEmpty ?? true { values["display_name"] = .string(name) }
        if values["version"]?.stringValue?.isEmpty ?? true { values["version"] = .string(version(fromName: name)) }
    }
}
