/// What this build of Proctor is, as `/metrics` reports it (`proctor_build_info`).
public enum ProctorBuild {
    /// The release version.
    public static let version = "0.1.0"
}
