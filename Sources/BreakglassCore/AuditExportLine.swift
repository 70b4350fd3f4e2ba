import Foundation

/// One line of `/v1/audit/events` and of an `audit export` file: a chain row as JSON, snake_case keys,
/// sorted, dates as `Timestamp` writes them. Written in one place so the server, the CLI and the benchmark
/// generator cannot drift apart.
public enum AuditExportLine {
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = Timestamp.encodingStrategy
        return encoder
    }()

    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = Timestamp.decodingStrategy
        return decoder
    }()

    /// The line for `row`, without its newline.
    public static func encode(_ row: AuditChainRow) -> Data {
        // A struct of integers, strings and a date always encodes.
        try! encoder.encode(row)
    }

    /// The row on one line (without its newline), or nil when the line is not a chain row. Lines as
    /// `encode` writes them are read by a byte scanner; any other line goes through JSONDecoder, as before.
    public static func decode(_ line: UnsafeBufferPointer<UInt8>) -> AuditChainRow? {
        var scanner = CanonicalJSONScanner(line)
        if let row = scanner.exportLine() { return row }
        // Invalid UTF-8 is repaired first, as reading the whole file into a String always did.
        return try? decoder.decode(AuditChainRow.self, from: Data(String(decoding: line, as: UTF8.self).utf8))
    }
}

extension CanonicalJSONScanner {
    /// `{"body":"…","hash":"…","id":N,"occurred_at":"…","prev_hash":"…","seq":N,"shard":N}`.
    mutating func exportLine() -> AuditChainRow? {
        guard take("{\"body\":\""), let (body, _) = string(),
              take(",\"hash\":\""), let (hash, hashPlain) = string(), hashPlain,
              take(",\"id\":"), let id = integer(),
              take(",\"occurred_at\":\""), let (at, atPlain) = string(), atPlain, let occurredAt = timestamp(at),
              take(",\"prev_hash\":\""), let (prevHash, prevPlain) = string(), prevPlain,
              take(",\"seq\":"), let seq = integer(),
              take(",\"shard\":"), let shard = integer(),
              take(0x7D), atEnd else { return nil }
        return AuditChainRow(id: id, shard: Int(shard), seq: seq, occurredAt: occurredAt,
                             body: String(decoding: unescaped(body), as: UTF8.self),
                             prevHash: String(decoding: bytes[prevHash], as: UTF8.self),
                             hash: String(decoding: bytes[hash], as: UTF8.self))
    }
}
