import Foundation

/// The contract itself, compiled into every binary that links this module (`Resource.embedInCode`): the broker
/// serves the repository's `openapi.json` byte for byte, with no resource bundle to install beside `breakglassd`
/// and no second copy to drift.
public enum OpenAPIDocument {
    public static var bytes: [UInt8] { PackageResources.openapi_json }
}

extension OpenAPIDocument {
    /// One operation of the contract as the router sees it.
    public struct Operation: Sendable, Hashable {
        public var method: String
        /// The path template as the document writes it: `/v1/sessions/{id}`.
        public var path: String
        public var operationId: String
        public var takesBody: Bool
        /// Whether the document asks for a bearer token (no `security: []` override).
        public var needsToken: Bool
        /// The query parameters read as a time or a number, by name: the router names one whose text is not that.
        public var typedQuery: [String: QueryValue] = [:]
        /// The 2xx statuses the document declares for this operation: the only ones that mean it succeeded.
        public var successStatuses: [Int] = []
    }

    /// What a typed query parameter's text must be, whole.
    public enum QueryValue: Sendable, Hashable {
        /// `format: date-time`.
        case time
        /// `type: integer`.
        case integer
    }

    /// Every operation the document describes, read from the compiled-in bytes: the server learns which operations
    /// take a JSON body from here, and the router tests walk this list so a new operation cannot go untested.
    public static let operations: [Operation] = {
        // The document is compiled in and checked by the suite: one that does not parse is a broken build, not an input.
        guard let document = try? JSONDecoder().decode(Document.self, from: Data(bytes)) else {
            preconditionFailure("the compiled-in openapi.json does not parse")
        }
        return document.paths.flatMap { path, item in
            [("GET", item.get), ("PUT", item.put), ("POST", item.post), ("DELETE", item.delete), ("PATCH", item.patch)]
                .compactMap { method, entry -> Operation? in
                    guard let entry, let id = entry.operationId else { return nil }
                    let typed = (entry.parameters ?? []).filter { $0.in == "query" }.compactMap { parameter in
                        parameter.schema?.format == "date-time" ? (parameter.name, QueryValue.time)
                            : parameter.schema?.type == "integer" ? (parameter.name, QueryValue.integer) : nil
                    }
                    return Operation(method: method, path: path, operationId: id, takesBody: entry.requestBody != nil,
                                     needsToken: entry.security.map { !$0.isEmpty } ?? true, typedQuery: Dictionary(typed) { first, _ in first },
                                     successStatuses: (entry.responses ?? [:]).keys.compactMap(Int.init).filter { (200..<300).contains($0) }.sorted())
                }
        }.sorted { ($0.path, $0.method) < ($1.path, $1.method) }
    }()

    /// Only what the router needs of the document; everything else in it is skipped.
    private struct Document: Decodable { var paths: [String: PathItem] }
    private struct PathItem: Decodable { var get, put, post, delete, patch: Entry? }
    private struct Entry: Decodable {
        var operationId: String?
        var requestBody: Present?
        var security: [Present]?
        var parameters: [Parameter]?
        var responses: [String: Present]?
    }
    private struct Parameter: Decodable {
        var name: String
        var `in`: String
        var schema: Schema?
    }
    private struct Schema: Decodable {
        var type: String?
        var format: String?

        /// A 3.1 schema may list several types; none of those is a typed query parameter.
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            type = try? container.decode(String.self, forKey: .type)
            format = try? container.decode(String.self, forKey: .format)
        }
        enum CodingKeys: String, CodingKey { case type, format }
    }
    /// A member that is there, whatever it holds.
    private struct Present: Decodable { init(from decoder: any Decoder) throws {} }
}
