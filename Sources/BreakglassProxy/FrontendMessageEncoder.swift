import NIOCore

extension FrontendMessage {
    /// Writes the message as PostgreSQL expects it; for a decoded message, the exact bytes received.
    /// Counts are 16-bit on the wire: a message built by hand with more than 65 535 parameters traps,
    /// which the protocol could not carry anyway; decoded messages never have more.
    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .startup(let startup):
            writeUntyped(into: &buffer) { body in
                body.writeInteger(Self.protocolVersion3)
                for pair in startup.pairs {
                    body.writeWireText(pair.name)
                    body.writeWireText(pair.value)
                }
                body.writeInteger(UInt8(0))
            }
        case .sslRequest:
            writeUntyped(into: &buffer) { $0.writeInteger(Self.sslRequestCode) }
        case .gssEncRequest:
            writeUntyped(into: &buffer) { $0.writeInteger(Self.gssEncRequestCode) }
        case .cancelRequest(let key):
            writeUntyped(into: &buffer) { body in
                body.writeInteger(Self.cancelRequestCode)
                body.writeInteger(key.processID)
                body.writeInteger(key.secretKey)
            }
        case .query(let text):
            buffer.writeMessage(type: UInt8(ascii: "Q")) { $0.writeWireText(text) }
        case .parse(let parse):
            buffer.writeMessage(type: UInt8(ascii: "P")) { body in
                body.writeWireText(parse.statement)
                body.writeWireText(parse.query)
                body.writeInteger(UInt16(parse.parameterTypes.count))
                for type in parse.parameterTypes { body.writeInteger(type) }
            }
        case .bind(let bind):
            buffer.writeMessage(type: UInt8(ascii: "B")) { body in
                body.writeWireText(bind.portal)
                body.writeWireText(bind.statement)
                body.writeInteger(UInt16(bind.parameterFormats.count))
                for format in bind.parameterFormats { body.writeInteger(format) }
                body.writeInteger(UInt16(bind.parameters.count))
                for parameter in bind.parameters { body.writeValue(parameter) }
                body.writeInteger(UInt16(bind.resultFormats.count))
                for format in bind.resultFormats { body.writeInteger(format) }
            }
        case .execute(let execute):
            buffer.writeMessage(type: UInt8(ascii: "E")) { body in
                body.writeWireText(execute.portal)
                body.writeInteger(execute.maxRows)
            }
        case .describe(let object):
            buffer.writeMessage(type: UInt8(ascii: "D")) { body in
                body.writeInteger(object.kind.rawValue)
                body.writeWireText(object.name)
            }
        case .close(let object):
            buffer.writeMessage(type: UInt8(ascii: "C")) { body in
                body.writeInteger(object.kind.rawValue)
                body.writeWireText(object.name)
            }
        case .sync:
            buffer.writeMessage(type: UInt8(ascii: "S")) { _ in }
        case .flush:
            buffer.writeMessage(type: UInt8(ascii: "H")) { _ in }
        case .terminate:
            buffer.writeMessage(type: UInt8(ascii: "X")) { _ in }
        case .password(let password):
            buffer.writeMessage(type: UInt8(ascii: "p")) { $0.writeWireText(password) }
        case .functionCall(let call):
            buffer.writeMessage(type: UInt8(ascii: "F")) { body in
                body.writeInteger(call.functionOID)
                body.writeInteger(UInt16(call.argumentFormats.count))
                for format in call.argumentFormats { body.writeInteger(format) }
                body.writeInteger(UInt16(call.arguments.count))
                for argument in call.arguments { body.writeValue(argument) }
                body.writeInteger(call.resultFormat)
            }
        case .other(let type, var body):
            buffer.writeMessage(type: type) { $0.writeBuffer(&body) }
        }
    }

    /// Startup-phase packets have no type byte: a length covering itself, then the body.
    private func writeUntyped(into buffer: inout ByteBuffer, body: (inout ByteBuffer) -> Void) {
        let lengthIndex = buffer.writerIndex
        buffer.writeInteger(Int32(0))
        body(&buffer)
        buffer.setInteger(Int32(buffer.writerIndex - lengthIndex), at: lengthIndex)
    }
}

/// Writes frontend messages on a channel: the proxy's side towards the target server.
public struct FrontendMessageEncoder: MessageToByteEncoder, Sendable {
    public typealias OutboundIn = FrontendMessage

    public init() {}

    public func encode(data: FrontendMessage, out: inout ByteBuffer) throws {
        data.encode(into: &out)
    }
}
