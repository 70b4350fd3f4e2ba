import Foundation

/// Reads the one JSON shape our encoders write (sorted keys, no whitespace, no `\u` escapes, plain
/// integers) straight from bytes, so a million chain rows are checked without a JSONDecoder per row.
///
/// It only ever accepts a subset of JSON that Foundation's JSONDecoder reads to the same values; anything
/// else (whitespace, `null`, escapes it does not know, odd numbers or dates) makes it give up, and the
/// caller falls back to JSONDecoder. A give-up therefore costs speed, never a different verdict.
struct CanonicalJSONScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    var atEnd: Bool { index == bytes.count }

    /// Consumes `literal` if the bytes continue with it.
    mutating func take(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - index >= count, memcmp(bytes.baseAddress! + index, literal.utf8Start, count) == 0 else { return false }
        index += count
        return true
    }

    mutating func take(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// A non-negative integer without sign, leading zero or fraction, small enough for Int64.
    mutating func integer() -> Int64? {
        let start = index
        var value: Int64 = 0
        while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
            value = value &* 10 &+ Int64(bytes[index] - 0x30)
            index += 1
        }
        let digits = index - start
        guard digits > 0, digits <= 18, digits == 1 || bytes[start] != 0x30 else { return nil }
        return value
    }

    /// The raw bytes of a string whose opening quote was consumed, up to and past its closing quote.
    /// `plain` is true when it holds no escape, so its bytes are its value.
    mutating func string() -> (range: Range<Int>, plain: Bool)? {
        let start = index
        var plain = true
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x22 {
                index += 1
                return (start..<index - 1, plain)
            }
            if byte < 0x20 { return nil }  // a raw control character is not JSON
            if byte == 0x5C {
                plain = false
                guard index + 1 < bytes.count, Self.simpleEscape(bytes[index + 1]) != nil else { return nil }
                index += 2
            } else {
                index += 1
            }
        }
        return nil
    }

    /// `"…":`, checked to sort after `previous` when given (sorted keys never repeat).
    mutating func key(after previous: Range<Int>?) -> Range<Int>? {
        guard take(0x22), let (range, plain) = string(), plain, take(0x3A) else { return nil }
        if let previous, !bytes[previous].lexicographicallyPrecedes(bytes[range]) { return nil }
        return range
    }

    /// `[]` or `["…","…"]`.
    mutating func stringArray() -> Bool {
        guard take(0x5B) else { return false }
        if take(0x5D) { return true }
        repeat {
            guard take(0x22), string() != nil else { return false }
        } while take(0x2C)
        return take(0x5D)
    }

    /// `{}` or `{"k":"v",…}` with keys in ascending byte order, as a sorted-keys encoder writes a dictionary.
    mutating func stringObject() -> Bool {
        guard take(0x7B) else { return false }
        if take(0x7D) { return true }
        var previous: Range<Int>?
        repeat {
            guard let key = key(after: previous), take(0x22), string() != nil else { return false }
            previous = key
        } while take(0x2C)
        return take(0x7D)
    }

    func equals(_ range: Range<Int>, _ literal: StaticString) -> Bool {
        range.count == literal.utf8CodeUnitCount && memcmp(bytes.baseAddress! + range.lowerBound, literal.utf8Start, range.count) == 0
    }

    /// The string's value with its escapes resolved.
    func unescaped(_ range: Range<Int>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        var i = range.lowerBound
        while i < range.upperBound {
            let byte = bytes[i]
            if byte == 0x5C {
                // string() let only simple escapes through.
                out.append(Self.simpleEscape(bytes[i + 1])!)
                i += 2
            } else {
                out.append(byte)
                i += 1
            }
        }
        return out
    }

    /// The byte an escape stands for; `\u` is left to JSONDecoder (surrogates are its business).
    static func simpleEscape(_ letter: UInt8) -> UInt8? {
        switch letter {
        case 0x22, 0x5C, 0x2F: return letter            // \" \\ \/
        case 0x62: return 0x08                          // \b
        case 0x66: return 0x0C                          // \f
        case 0x6E: return 0x0A                          // \n
        case 0x72: return 0x0D                          // \r
        case 0x74: return 0x09                          // \t
        default: return nil
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` as `Timestamp.format` writes it (`Timestamp.parseWritten`).
    func timestamp(_ range: Range<Int>) -> Date? {
        guard range.count == 24 else { return nil }
        return Timestamp.parseWritten(UnsafeBufferPointer(rebasing: bytes[range]))
    }
}
