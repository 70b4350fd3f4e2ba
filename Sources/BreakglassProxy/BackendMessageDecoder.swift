import NIOCore

/// Frames and parses what the target server sends. The server is more trusted than a client, but a
/// proxy that crashes on a bad server message is still a proxy down, so the same limits apply.
///
/// The single-byte answer to an SSLRequest is not a typed message: the connector reads it before
/// this decoder is added to the pipeline.
public struct BackendMessageDecoder: WireMessageDecoder, Sendable {
    public typealias InboundOut = BackendMessage

    public let limits: ProtocolLimits

    public init(limits: ProtocolLimits = .default) {
        self.limits = limits
    }

    public func missingBytes(in buffer: ByteBuffer) -> Int { typedMessageMissingBytes(in: buffer) }

    public func next(from buffer: inout ByteBuffer) throws -> BackendMessage? {
        guard let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
              let length = buffer.getInteger(at: buffer.readerIndex + 1, as: Int32.self)
        else { return nil }
        guard length >= 4 else { throw WireProtocolError.lengthTooSmall(messageType: type, length: length) }
        guard length <= limits.maxMessageLength else {
            throw WireProtocolError.messageTooLong(messageType: type, length: Int(length), limit: limits.maxMessageLength)
        }
        guard buffer.readableBytes >= 1 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 5)
        return try BackendMessage.parse(type: type, body: buffer.readSlice(length: Int(length) - 4)!)
    }
}

extension BackendMessage {
    /// Parses the body of a backend message; strict for the types the proxy reads, so that what
    /// parses re-encodes identically. Unknown types pass through: new server versions add some.
    public static func parse(type: UInt8, body buffer: ByteBuffer) throws -> BackendMessage {
        var body = MessageBody(buffer: buffer, type: type)
        let message: BackendMessage
        switch type {
        case UInt8(ascii: "R"):
            let code = try body.int32("authentication code")
            switch code {
            case 0: message = .authentication(.ok)
            case 3: message = .authentication(.cleartextPassword)
            case 5: message = .authentication(.md5Password(salt: try body.uint32("salt")))
            default:
                let rest = body.buffer.readSlice(length: body.buffer.readableBytes)!
                message = .authentication(.other(code: code, data: rest))
            }
        case UInt8(ascii: "S"):
            message = .parameterStatus(name: try body.text("name"), value: try body.text("value"))
        case UInt8(ascii: "K"):
            message = .backendKeyData(.init(processID: try body.int32("process ID"), secretKey: try body.int32("secret key")))
        case UInt8(ascii: "Z"):
            guard let status = TransactionStatus(rawValue: try body.byte("status")) else { throw body.malformed("unknown transaction status") }
            message = .readyForQuery(status)
        case UInt8(ascii: "C"):
            message = .commandComplete(tag: try body.text("tag"))
        case UInt8(ascii: "E"):
            var fields: [ErrorFields.Field] = []
            while true {
                let code = try body.byte("field code")
                if code == 0 { break }
                fields.append(.init(code: code, value: try body.text("field value")))
            }
            message = .errorResponse(ErrorFields(fields: fields))
        case UInt8(ascii: "D"):
            let count = try body.count("column count", minimumElementSize: 4)
            var columns: [ByteBuffer?] = []
            for _ in 0..<count { columns.append(try body.value("column")) }
            message = .dataRow(DataRow(columns: columns))
        case UInt8(ascii: "T"):
            // Each column takes at least 19 bytes: an empty name's NUL and 18 bytes of fixed fields.
            let count = try body.count("column count", minimumElementSize: 19)
            var columns: [ColumnDescription] = []
            for _ in 0..<count {
                columns.append(ColumnDescription(
                    name: try body.text("column name"), tableOID: try body.uint32("table OID"),
                    columnAttributeNumber: try body.int16("attribute number"), typeOID: try body.uint32("type OID"),
                    typeSize: try body.int16("type size"), typeModifier: try body.int32("type modifier"),
                    format: try body.int16("format")))
            }
            message = .rowDescription(columns)
        case UInt8(ascii: "I"):
            message = .emptyQueryResponse
        case UInt8(ascii: "s"):
            message = .portalSuspended
        default:
            return .other(type: type, body: buffer)
        }
        try body.end()
        return message
    }
}
