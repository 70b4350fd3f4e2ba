import BreakglassAPI
import BreakglassCore
import Foundation

/// Domain documents the core already writes in the contract's shape (evidence packs, drill reports, stories)
/// become the generated schema by reading their wire form back: one place, with the same coders on both sides,
/// so the bytes a client receives are the bytes the domain wrote.
enum SchemaBridge {
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = Timestamp.decodingStrategy
        return decoder
    }()

    static func schema<Schema: Decodable>(_ value: some Encodable, as: Schema.Type = Schema.self) throws -> Schema {
        try decoder.decode(Schema.self, from: APICoding.encoder.encode(value))
    }
}

extension SchemaBridge {
    /// A domain enum's value as the contract's enum; a value the contract does not list is the broker's own bug.
    static func value<Value: RawRepresentable>(_ raw: Value.RawValue) throws -> Value {
        guard let value = Value(rawValue: raw) else {
            throw BreakglassError(.internalFailure, "internal_error", "the broker produced a value its contract does not list")
        }
        return value
    }
}
