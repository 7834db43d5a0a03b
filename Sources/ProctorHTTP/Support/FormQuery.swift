import HummingbirdCore
import ProctorCore

extension URI {
    /// The query's parameters decoded as a form, as HTML forms and Python's `urlencode` (cdrouter.py, dciclient,
    /// `requests`) encode them: `+` is a space and `%2B` a plus, `%XX` runs are UTF-8.
    ///
    /// Hummingbird's `queryParameters` leaves a `+` as it is, so `filter=tags%40%3E%7Bnight+build%7D` looked for
    /// the tag `night+build`. The query language's parameters (`filter`, `sort`, …) are read through this one; DCI
    /// and KernelCI decode their whole queries the same way.
    var formParameters: FlatDictionary<Substring, Substring> {
        FlatDictionary(
            DCISignature.formPairs(query, keepBlank: true).map { (key: Substring($0.0), value: Substring($0.1)) }
        )
    }
}
