import Foundation
import ProctorStoreWriting

/// What a harness record (an XPRESSO harness instance: a profile's `harness_ids`) decides for the runs of its
/// profile: its `path` is the interpreter or binary the harness adapter runs (`python` for pytest, `pyats` for
/// pyATS). Snapshotted into the run's options at launch, like the rest of the definition and profile, so that
/// a remote agent needs no store and a later edit does not change a queued run. Only admins edit harness
/// records; a launch cannot choose them.
enum HarnessBinaries {
    /// The run option that names the binary of each harness that has one.
    static let optionKey = ["pytest": "python", "pyats": "pyats"]

    /// The option key and path of the first of the profile's harness records of the job's harness type that
    /// names a path, or nil (then the definition's config, else the executor's `--python`/`--pyats`, decide).
    static func chosen(harness: String, profile: Profile?, groupID: String, store: any Store) async throws -> (
        key: String, path: String
    )? {
        let type = harness.lowercased()
        guard let key = optionKey[type], let profile else { return nil }
        for id in profile.harnessIDs {
            guard let record = try await store.get(Harness.self, id: id, scope: .groups([groupID])),
                record.bool(.deleted) != true,
                record.string(.harness)?.lowercased() == type,
                let path = record.string(.path)?.trimmingCharacters(in: .whitespaces), !path.isEmpty
            else { continue }
            return (key, path)
        }
        return nil
    }
}
