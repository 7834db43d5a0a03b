import ProctorCore
import ProctorHTTPKit

/// Renders an OpenAPI document as one self-contained HTML page (`/docs`): no scripts, no CDN, so it works
/// offline and behind any proxy. Every operation shows its parameters, request body and responses; schemas are
/// listed at the end and linked from wherever they are used.
enum DocsPage {
    static func render(_ document: JSONValue) -> String {
        var page = Page(document: document)
        return page.render()
    }

    private struct Page {
        let document: JSONValue
        var html = ""

        init(document: JSONValue) {
            self.document = document
        }

        mutating func render() -> String {
            let title = document["info"]?["title"]?.stringValue ?? "API"
            html += """
                <!doctype html>
                <html lang="en"><head><meta charset="utf-8">
                <meta name="viewport" content="width=device-width, initial-scale=1">
                <title>\(escape(title))</title>
                <style>\(Self.style)</style>
                </head><body>
                <h1>\(escape(title)) <small>\(escape(document["info"]?["version"]?.stringValue ?? ""))</small></h1>
                <p>\(inline(document["info"]?["description"]?.stringValue ?? ""))</p>
                <p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI \(escape(document["openapi"]?.stringValue ?? ""))).</p>

                """
            let operations = self.operations()
            let tags = operations.map(\.tag).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            html += "<nav><h2>Contents</h2><ul>"
            for tag in tags { html += "<li><a href=\"#tag-\(anchor(tag))\">\(escape(tag))</a></li>" }
            html += "<li><a href=\"#schemas\">Schemas</a></li></ul></nav>\n"
            for tag in tags {
                html += "<h2 id=\"tag-\(anchor(tag))\">\(escape(tag))</h2>\n"
                for operation in operations where operation.tag == tag { renderOperation(operation) }
            }
            renderSchemas()
            html += "</body></html>\n"
            return html
        }

        struct Operation {
            var method: String
            var path: String
            var tag: String
            var body: [String: JSONValue]
        }

        func operations() -> [Operation] {
            let order = ["get", "post", "put", "patch", "delete", "head", "options"]
            var out: [Operation] = []
            for (path, item) in (document["paths"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                for method in order {
                    guard let operation = item[method]?.objectValue else { continue }
                    let tag = operation["tags"]?.arrayValue?.first?.stringValue ?? "other"
                    out.append(Operation(method: method, path: path, tag: tag, body: operation))
                }
            }
            return out
        }

        mutating func renderOperation(_ operation: Operation) {
            let id = operation.body["operationId"]?.stringValue ?? "\(operation.method)-\(operation.path)"
            html += "<section class=\"op\" id=\"\(anchor(id))\">\n"
            html += "<h3><span class=\"method \(operation.method)\">\(operation.method.uppercased())</span> "
            html += "<code>\(escape(operation.path))</code></h3>\n"
            if let summary = operation.body["summary"]?.stringValue {
                html += "<p class=\"summary\">\(inline(summary))</p>\n"
            }
            if let description = operation.body["description"]?.stringValue {
                html += "<p>\(inline(description))</p>\n"
            }
            let isPublic = operation.body["security"]?.arrayValue?.isEmpty == true
            html +=
                "<p class=\"auth\">\(isPublic ? "No credentials needed." : "Needs <code>Authorization: Bearer &lt;token&gt;</code>.")</p>\n"
            let parameters = (operation.body["parameters"]?.arrayValue ?? []).map(resolveParameter)
            if !parameters.isEmpty {
                html +=
                    "<h4>Parameters</h4>\n<table><tr><th>name</th><th>in</th><th>type</th><th>required</th><th>meaning</th></tr>\n"
                for parameter in parameters {
                    html += "<tr><td><code>\(escape(parameter["name"]?.stringValue ?? ""))</code></td>"
                    html += "<td>\(escape(parameter["in"]?.stringValue ?? ""))</td>"
                    html += "<td>\(type(parameter["schema"] ?? SchemaDoc.any))</td>"
                    html += "<td>\(parameter["required"] == .bool(true) ? "yes" : "")</td>"
                    html += "<td>\(inline(parameter["description"]?.stringValue ?? ""))</td></tr>\n"
                }
                html += "</table>\n"
            }
            if let body = operation.body["requestBody"]?.objectValue {
                html += "<h4>Request body</h4>\n"
                for (mediaType, content) in (body["content"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                    html += "<p><code>\(escape(mediaType))</code>: \(type(content["schema"] ?? SchemaDoc.any))</p>\n"
                    if let schema = content["schema"] { renderFields(schema) }
                }
            }
            html += "<h4>Responses</h4>\n<table><tr><th>status</th><th>meaning</th><th>body</th></tr>\n"
            let responses = (operation.body["responses"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key })
            for (status, response) in responses {
                let resolved = resolveResponse(response)
                var bodies: [String] = []
                for (mediaType, content) in (resolved["content"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                    bodies.append("<code>\(escape(mediaType))</code> \(type(content["schema"] ?? SchemaDoc.any))")
                }
                html += "<tr><td class=\"status\">\(escape(status))</td>"
                html +=
                    "<td>\(inline(resolved["description"]?.stringValue ?? ""))</td><td>\(bodies.joined(separator: "<br>"))</td></tr>\n"
            }
            html += "</table>\n</section>\n"
        }

        mutating func renderSchemas() {
            html += "<h2 id=\"schemas\">Schemas</h2>\n"
            let schemas = document["components"]?["schemas"]?.objectValue ?? [:]
            for (name, schema) in schemas.sorted(by: { $0.key < $1.key }) {
                html += "<section class=\"schema\" id=\"schema-\(anchor(name))\"><h3>\(escape(name))</h3>\n"
                if let description = schema["description"]?.stringValue { html += "<p>\(inline(description))</p>\n" }
                html += "<p>\(type(schema))</p>\n"
                renderFields(schema)
                html += "</section>\n"
            }
        }

        /// A table of an object schema's fields (or of each part of an `allOf`), following references a few
        /// levels deep so that a request body shows its fields where it is used.
        mutating func renderFields(_ schema: JSONValue, depth: Int = 0) {
            if let reference = schema["$ref"]?.stringValue {
                guard depth < 3, let name = reference.split(separator: "/").last,
                    let target = document["components"]?["schemas"]?[String(name)]
                else { return }
                renderFields(target, depth: depth + 1)
                return
            }
            if let parts = schema["allOf"]?.arrayValue {
                for part in parts { renderFields(part, depth: depth + 1) }
                return
            }
            guard let properties = schema["properties"]?.objectValue, !properties.isEmpty else { return }
            let required = Set(schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            html += "<table><tr><th>field</th><th>type</th><th>required</th><th>notes</th></tr>\n"
            for (name, property) in properties.sorted(by: { $0.key < $1.key }) {
                html += "<tr><td><code>\(escape(name))</code></td><td>\(type(property))</td>"
                html += "<td>\(required.contains(name) ? "yes" : "")</td><td>\(notes(property))</td></tr>\n"
            }
            html += "</table>\n"
        }

        /// A schema's type in words, with links to named schemas.
        func type(_ schema: JSONValue) -> String {
            guard let object = schema.objectValue else { return "any" }
            if let reference = object["$ref"]?.stringValue {
                let name = reference.split(separator: "/").last.map(String.init) ?? reference
                return "<a href=\"#schema-\(anchor(name))\">\(escape(name))</a>"
            }
            if let parts = (object["allOf"] ?? object["anyOf"] ?? object["oneOf"])?.arrayValue {
                let joiner = object["allOf"] != nil ? " and " : " or "
                let words = parts.map(type).filter { $0 != "object" || parts.count == 1 }
                return words.isEmpty ? "object" : words.joined(separator: joiner)
            }
            if let values = object["enum"]?.arrayValue {
                return "one of "
                    + values.compactMap(\.stringValue).map { "<code>\(escape($0))</code>" }.joined(separator: ", ")
            }
            var names: [String]
            switch object["type"] {
            case .string(let name)?: names = [name]
            case .array(let list)?: names = list.compactMap(\.stringValue)
            default: return object.isEmpty ? "any JSON" : "object"
            }
            names = names.map { name in
                switch name {
                case "array": return "array of " + type(object["items"] ?? SchemaDoc.any)
                case "string": return object["format"]?.stringValue.map { "string (\(escape($0)))" } ?? "string"
                case "object":
                    if let values = object["additionalProperties"], values.objectValue != nil {
                        return "map of " + type(values)
                    }
                    return "object"
                default: return escape(name)
                }
            }
            return names.joined(separator: " | ")
        }

        func notes(_ schema: JSONValue) -> String {
            var notes: [String] = []
            if let description = schema["description"]?.stringValue { notes.append(inline(description)) }
            for key in ["minimum", "maximum", "minLength", "maxLength"] {
                if case .number(let value)? = schema[key] { notes.append("\(key) \(Int64(value))") }
            }
            if schema["readOnly"] == .bool(true) { notes.append("read-only") }
            if schema["writeOnly"] == .bool(true) { notes.append("write-only, never returned") }
            return notes.joined(separator: "; ")
        }

        func resolveParameter(_ parameter: JSONValue) -> JSONValue {
            guard let reference = parameter["$ref"]?.stringValue, let name = reference.split(separator: "/").last else {
                return parameter
            }
            return document["components"]?["parameters"]?[String(name)] ?? parameter
        }

        func resolveResponse(_ response: JSONValue) -> JSONValue {
            guard let reference = response["$ref"]?.stringValue, let name = reference.split(separator: "/").last else {
                return response
            }
            return document["components"]?["responses"]?[String(name)] ?? response
        }

        /// Escapes text and turns `code` spans into `<code>`.
        func inline(_ text: String) -> String {
            let parts = escape(text).split(separator: "`", omittingEmptySubsequences: false)
            var out = ""
            for (index, part) in parts.enumerated() {
                if index % 2 == 0 {
                    out += part
                } else if index == parts.count - 1 {
                    out += "`" + part
                } else {
                    out += "<code>\(part)</code>"
                }
            }
            return out
        }

        func escape(_ text: String) -> String {
            var out = ""
            out.reserveCapacity(text.utf8.count)
            for character in text {
                switch character {
                case "&": out += "&amp;"
                case "<": out += "&lt;"
                case ">": out += "&gt;"
                case "\"": out += "&quot;"
                case "'": out += "&#39;"
                default: out.append(character)
                }
            }
            return out
        }

        func anchor(_ text: String) -> String {
            String(text.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" })
        }

        static let style = """
            body{font:15px/1.5 system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#222}
            h1 small{color:#777;font-size:60%}h2{border-bottom:2px solid #ddd;margin-top:2em}
            nav ul{columns:3}section{border:1px solid #e3e3e3;border-radius:6px;padding:.2em 1em;margin:1em 0}
            code{background:#f4f4f4;padding:0 .25em;border-radius:3px}
            table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px solid #e3e3e3;padding:.25em .5em;text-align:left;vertical-align:top}
            th{background:#fafafa}.status{font-weight:bold}.summary{font-weight:600}.auth{color:#666;font-size:90%}
            .method{display:inline-block;min-width:4.5em;text-align:center;color:#fff;border-radius:4px;padding:0 .4em;font-size:85%}
            .get{background:#2b7bb9}.post{background:#2f9e44}.patch{background:#d9822b}.put{background:#b98b2b}.delete{background:#c92a2a}
            body,code{overflow-wrap:anywhere}pre{overflow-x:auto;max-width:100%}
            @media (max-width:40em){body{margin:1em auto;padding:0 .5em}nav ul{columns:1;padding-left:1.2em}
            section{padding:.2em .5em}table{table-layout:fixed;font-size:90%}th,td{padding:.2em .3em}}
            """
    }
}
