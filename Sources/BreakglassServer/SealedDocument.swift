import BreakglassCore
import Foundation

/// A document sealed as evidence packs are (`EvidencePack`): `pack_sha256` is the SHA-256 of the RFC 8785 canonical
/// form of the document, as the broker writes it, without that member. The document stays typed so the API maps it
/// field by field; only the seal reads its JSON.
public struct SealedDocument<Document: Encodable & Sendable>: Sendable {
    public var document: Document
    public var packSha256: String

    init(_ document: Document) throws {
        self.document = document
        packSha256 = try JSONDecoder().decode(JSONValue.self, from: APICoding.encoder.encode(document)).sha256
    }
}
