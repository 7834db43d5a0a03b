import Foundation
import HTTPTypes
import Hummingbird

extension HTTPFields {
    /// The value of the `name` field, as `self[name]` gives it: nil when absent, the values of every occurrence
    /// joined when it occurs more than once. A field that occurs once (nearly every one) is answered with its
    /// value as it is: the subscript joins even a single value through a lazy sequence, character by character,
    /// which was 4,500 instructions for a bearer token's `Authorization` header, on every request.
    public func value(of name: HTTPField.Name) -> String? {
        var found: String?
        for field in self where field.name == name {
            if found != nil { return self[name] }
            found = field.value
        }
        return found
    }
}

extension Request {
    /// The `If-Match` entity tag a conditional write carries, without its quotes and surrounding spaces.
    public var ifMatchTag: String? {
        headers.value(of: .ifMatch).map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")) }
    }
}
