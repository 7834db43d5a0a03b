import HTTPTypes
import Hummingbird
import ProctorCore
import ProctorHTTPKit

/// KernelCI's token check (`handlers/common/token.py`): `Authorization: <token>`, the raw token with no scheme
/// (`Bearer <token>` is accepted too), checked before anything else; a missing, unknown or expired token, or
/// one without the right for the method, is a 403 (``KernelCIErrors`` words every refusal so). CORS preflights
/// carry no token; the original answers them without one.
///
/// The tokens are Proctor's API tokens. KernelCI's per-token rights map onto token scopes (see
/// ``KernelCIScope``); a token without scopes carries its user's full rights, and what the user may then
/// see and change is decided by its group roles, as everywhere in Proctor.
extension CredentialPolicy {
    static let kernelCI: CredentialPolicy = {
        var policy = CredentialPolicy.token
        policy.exemptMethods = [.options]
        policy.tokenRights = { KernelCIScope.allows($0, method: $1) }
        return policy
    }()
}

/// KernelCI's token rights as Proctor token scopes: `get`, `post` (POST and PUT; `put` is a synonym), `delete`
/// and `admin` (all of them), each also accepted with a `kernelci:` prefix; Proctor's `read` allows GET and
/// `write` the rest.
enum KernelCIScope {
    static func allows(_ scopes: Set<String>?, method: HTTPRequest.Method) -> Bool {
        guard let scopes else { return true }
        func has(_ name: String) -> Bool { scopes.contains(name) || scopes.contains("kernelci:" + name) }
        if has("admin") { return true }
        // Proctor's shared scope names count too (read for GET, write for the rest), as on every other door.
        let shared = AccessScope.granted(by: scopes.filter { ["read", "write", "execute"].contains($0) })
        switch method {
        case .get, .head: return has("get") || shared.contains(.read)
        case .post, .put: return has("post") || has("put") || shared.contains(.write)
        case .delete: return has("delete") || shared.contains(.write)
        default: return true  // answered 405 by the routes, as Tornado does before any token check
        }
    }
}
