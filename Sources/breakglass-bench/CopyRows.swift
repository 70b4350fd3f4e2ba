import BreakglassCore
import Foundation
import NIOCore

/// Rows in PostgreSQL's `COPY … FROM STDIN` text format: fields separated by tabs, `\N` for NULL, and the
/// backslash, tab, newline and carriage return escaped, so any text (canonical JSON included) arrives unchanged.
struct CopyRows {
    private(set) var buffer = ByteBuffer()

    var isFull: Bool { buffer.readableBytes >= 1 << 20 }

    mutating func append(_ fields: [CopyField]) {
        for (index, field) in fields.enumerated() {
            if index > 0 { buffer.writeInteger(UInt8(ascii: "\t")) }
            guard let text = field.text else {
                buffer.writeStaticString("\\N")
                continue
            }
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
                case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
                case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
                default: buffer.writeInteger(byte)
                }
            }
        }
        buffer.writeInteger(UInt8(ascii: "\n"))
    }

    /// Hands over what was written so far and starts an empty buffer.
    mutating func take() -> ByteBuffer {
        defer { buffer = ByteBuffer() }
        return buffer
    }
}

/// One field of a COPY row, in the text PostgreSQL parses for its column type.
struct CopyField: ExpressibleByStringLiteral {
    var text: String?

    init(_ text: String?) { self.text = text }
    init(stringLiteral value: String) { text = value }
    init(_ date: Date?) { text = date.map(Timestamp.format) }
    init(_ number: Int?) { text = number.map(String.init) }
    init(_ number: Int64) { text = String(number) }
    init(_ flag: Bool) { text = flag ? "t" : "f" }
    init(_ id: UUID?) { text = id?.uuidString.lowercased() }

    /// A JSON object of strings (pages, credential references), as the broker stores them.
    static func json(_ object: [String: String]) -> CopyField {
        CopyField(String(decoding: (try? JSONEncoder().encode(object)) ?? Data("{}".utf8), as: UTF8.self))
    }

    static let null = CopyField(nil as String?)
}
