import NIOCore

/// Which Bind parameter values a target's records keep. Statement text is always kept: it is what
/// the reviewer must see; parameter values are where card numbers and personal data travel.
public enum RedactionPolicy: Sendable, Hashable {
    case recordValues
    case redactValues

    func record(_ value: ByteBuffer?, format: Int16) -> RecordedParameter {
        guard let value else { return .null }
        if self == .redactValues { return .redacted(byteCount: value.readableBytes) }
        let bytes = value.readableBytesView
        if format == 0 {
            // Decoding repairs invalid UTF-8; if repair changed the bytes, hex is the faithful record.
            let text = String(decoding: bytes, as: UTF8.self)
            if text.utf8.elementsEqual(bytes) { return .text(text) }
        }
        return .binary(hex: Self.hex(bytes))
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
