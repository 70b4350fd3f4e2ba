/// Lowercase hex, as digests and signatures are written in the audit log, checksums and HTTP headers.
/// A table lookup: verify writes or compares two hashes per audit row.
enum Hex {
    static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Whether `text` is exactly the lowercase hex of `bytes`.
    static func matches(_ bytes: UnsafeRawBufferPointer, _ text: String) -> Bool {
        guard text.utf8.count == 2 * bytes.count else { return false }
        var chars = text.utf8.makeIterator()
        for byte in bytes {
            guard chars.next() == digits[Int(byte >> 4)], chars.next() == digits[Int(byte & 0x0F)] else { return false }
        }
        return true
    }
}

extension Sequence where Element == UInt8 {
    public var hex: String {
        var out: [UInt8] = []
        out.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            out.append(Hex.digits[Int(byte >> 4)])
            out.append(Hex.digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
