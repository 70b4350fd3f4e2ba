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
    }

    /// Every operation the document describes, read from the compiled-in bytes: the server learns which operations
    /// take a JSON body from here, and the router tests walk this list so a new operation cannot go untested.
    public static let operations: [Operation] = {
        guard let document = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let paths = document["paths"] as? [String: [String: Any]] else { return [] }
        let methods = ["get", "put", "post", "delete", "patch"]
        return paths.flatMap { path, item in
            methods.compactMap { method -> Operation? in
                guard let operation = item[method] as? [String: Any], let id = operation["operationId"] as? String else { return nil }
                let security = operation["security"] as? [Any]
                return Operation(method: method.uppercased(), path: path, operationId: id, takesBody: operation["requestBody"] != nil,
                                 needsToken: security.map { !$0.isEmpty } ?? true)
            }
        }.sorted { ($0.path, $0.method) < ($1.path, $1.method) }
    }()
}
