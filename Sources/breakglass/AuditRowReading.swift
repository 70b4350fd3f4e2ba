import BreakglassAPI
import BreakglassCore
import Foundation

/// Reads chain rows a line at a time, from an export file or from the broker's pages, so verifying a log
/// of any size holds one chunk or one page, never the whole log.
enum AuditRowReading {
    static let pageSize = 5000
    /// Bytes read from a file at a time.
    static let chunkSize = 1 << 20

    /// Every row of an `audit export` file, in file order.
    static func forEachRow(path: String, _ body: (AuditChainRow) throws -> Void) throws {
        guard let file = FileHandle(forReadingAtPath: path) else {
            throw CLIError(kind: .usage, code: "no_file", message: "cannot read \(path)")
        }
        defer { try? file.close() }
        var pending: [UInt8] = []
        while true {
            let chunk: Data
            do {
                chunk = try file.read(upToCount: chunkSize) ?? Data()
            } catch {
                throw CLIError(kind: .usage, code: "no_file", message: "cannot read \(path)")
            }
            if chunk.isEmpty { break }
            pending += chunk
            // Complete lines are handed over; a line cut by the chunk's end waits for the next chunk.
            let consumed = try pending.withUnsafeBufferPointer { try forEachLine(in: $0, final: false) { try body(try decodeRow($0)) } }
            pending.removeFirst(consumed)
        }
        _ = try pending.withUnsafeBufferPointer { try forEachLine(in: $0, final: true) { try body(try decodeRow($0)) } }
    }

    /// Every page of `/v1/audit/events` (events at `from` or later and before `until`, when given), as the JSON
    /// lines the broker sent, page by page.
    static func forEachPage(client: APIClient, from: Date? = nil, until: Date? = nil, _ body: (_ lines: [Substring]) throws -> Void) async throws {
        var after: Int64 = 0
        while true {
            let query = Operations.ExportAuditEvents.Input.Query(from: from, until: until, afterId: after, limit: pageSize)
            let (_, data) = try await client.call { try await $0.exportAuditEvents(query: query).ok.body.applicationXNdjson }
            let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
            try body(lines)
            guard lines.count == pageSize, let last = lines.last, let row = try? decodeRow(last) else { return }
            after = row.id
        }
    }

    static func decodeRow(_ line: Substring) throws -> AuditChainRow {
        try Array(line.utf8).withUnsafeBufferPointer { try decodeRow($0) }
    }

    /// Hands each non-empty line in `bytes` to `body`; returns how many bytes it consumed. Unless `final`,
    /// bytes after the last newline are left for the caller to complete.
    private static func forEachLine(in bytes: UnsafeBufferPointer<UInt8>, final: Bool,
                                    _ body: (UnsafeBufferPointer<UInt8>) throws -> Void) throws -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        var start = 0
        // memchr finds the newlines: a byte-by-byte loop here was a tenth of verify's time.
        while start < bytes.count, let found = memchr(base + start, 0x0A, bytes.count - start) {
            let index = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
            if index > start { try body(UnsafeBufferPointer(rebasing: bytes[start..<index])) }
            start = index + 1
        }
        if final, start < bytes.count {
            try body(UnsafeBufferPointer(rebasing: bytes[start...]))
            start = bytes.count
        }
        return start
    }

    private static func decodeRow(_ line: UnsafeBufferPointer<UInt8>) throws -> AuditChainRow {
        guard let row = AuditExportLine.decode(line) else {
            throw CLIError(kind: .usage, code: "bad_export",
                           message: "an audit line is not a chain row: \(String(decoding: line, as: UTF8.self).prefix(80))")
        }
        return row
    }
}
