import NIOCore

/// Readers and writers for the protocol's primitive types. Readers return nil when the body is too
/// short, so each message parser turns a short body into one `malformedMessage` error.
extension ByteBuffer {
    /// Reads a NUL-terminated string, consuming the NUL.
    mutating func readWireText() -> WireText? {
        guard let end = readableBytesView.firstIndex(of: 0) else { return nil }
        let length = end - readableBytesView.startIndex
        guard let bytes = readBytes(length: length) else { return nil }
        moveReaderIndex(forwardBy: 1)
        return WireText(wireBytes: bytes)
    }

    mutating func writeWireText(_ text: WireText) {
        writeBytes(text.bytes)
        writeInteger(UInt8(0))
    }

    /// Counts in Bind, Parse, DataRow and RowDescription are unsigned 16-bit on the server side
    /// (`pq_getmsgint(msg, 2)`), so 65 535 parameters is legal; reading them as Int16 would refuse it.
    mutating func readCount() -> Int? {
        readInteger(as: UInt16.self).map(Int.init)
    }

    /// Writes a length-prefixed value, -1 for NULL.
    mutating func writeValue(_ value: ByteBuffer?) {
        if var value {
            writeInteger(Int32(value.readableBytes))
            writeBuffer(&value)
        } else {
            writeInteger(Int32(-1))
        }
    }

    /// Writes a message: type byte, then a length covering itself and the body, then the body.
    mutating func writeMessage(type: UInt8, body: (inout ByteBuffer) -> Void) {
        writeInteger(type)
        let lengthIndex = writerIndex
        writeInteger(Int32(0))
        body(&self)
        setInteger(Int32(writerIndex - lengthIndex), at: lengthIndex)
    }
}

/// Parsing context for one message body: every failure names the message type.
struct MessageBody {
    var buffer: ByteBuffer
    let type: UInt8?

    func malformed(_ reason: String) -> WireProtocolError {
        .malformedMessage(messageType: type, reason: reason)
    }

    mutating func text(_ field: String) throws -> WireText {
        guard let value = buffer.readWireText() else { throw malformed("\(field): missing or unterminated string") }
        return value
    }

    mutating func int32(_ field: String) throws -> Int32 {
        guard let value = buffer.readInteger(as: Int32.self) else { throw malformed("\(field): truncated") }
        return value
    }

    mutating func uint32(_ field: String) throws -> UInt32 {
        guard let value = buffer.readInteger(as: UInt32.self) else { throw malformed("\(field): truncated") }
        return value
    }

    mutating func int16(_ field: String) throws -> Int16 {
        guard let value = buffer.readInteger(as: Int16.self) else { throw malformed("\(field): truncated") }
        return value
    }

    mutating func byte(_ field: String) throws -> UInt8 {
        guard let value = buffer.readInteger(as: UInt8.self) else { throw malformed("\(field): truncated") }
        return value
    }

    /// A count whose elements each take at least `minimumElementSize` bytes: a count the remaining
    /// body cannot hold is refused before any array is built for it.
    mutating func count(_ field: String, minimumElementSize: Int) throws -> Int {
        guard let value = buffer.readCount() else { throw malformed("\(field): truncated") }
        guard value * minimumElementSize <= buffer.readableBytes else { throw malformed("\(field): \(value) does not fit the body") }
        return value
    }

    /// A length-prefixed value: -1 is NULL, other negatives are malformed.
    mutating func value(_ field: String) throws -> ByteBuffer? {
        let length = try int32(field)
        if length == -1 { return nil }
        guard length >= 0 else { throw malformed("\(field): negative length \(length)") }
        guard let slice = buffer.readSlice(length: Int(length)) else { throw malformed("\(field): truncated") }
        return slice
    }

    func end() throws {
        guard buffer.readableBytes == 0 else { throw malformed("\(buffer.readableBytes) trailing bytes") }
    }
}
