import NIOCore

/// What both decoders do on a channel: pass on a message whenever a whole one is buffered, and report a
/// connection that ends inside a message rather than drop it silently. Each decoder says how to take one
/// message (`next`) and how many bytes the one it is waiting for still lacks.
public protocol WireMessageDecoder: ByteToMessageDecoder {
    /// Decodes one message if a whole one is buffered; usable without a channel.
    mutating func next(from buffer: inout ByteBuffer) throws -> InboundOut?
    /// How many bytes the message at the start of `buffer` still lacks.
    func missingBytes(in buffer: ByteBuffer) -> Int
}

extension WireMessageDecoder {
    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let message = try next(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(message))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        if let message = try next(from: &buffer) {
            context.fireChannelRead(Self.wrapInboundOut(message))
            return .continue
        }
        if buffer.readableBytes > 0 {
            let missing = missingBytes(in: buffer)
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            throw WireProtocolError.truncatedMessage(missingBytes: missing)
        }
        return .needMoreData
    }
}

/// Bytes still missing of a typed message (1-byte type, Int32 length counting itself) at the start of `buffer`.
func typedMessageMissingBytes(in buffer: ByteBuffer) -> Int {
    let length = buffer.getInteger(at: buffer.readerIndex + 1, as: Int32.self).map { 1 + Int($0) } ?? 5
    return max(length - buffer.readableBytes, 0)
}
