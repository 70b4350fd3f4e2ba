import NIOCore

extension BackendMessage {
    /// Writes the message; for a decoded message, the exact bytes received.
    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .authentication(let authentication):
            buffer.writeMessage(type: UInt8(ascii: "R")) { body in
                switch authentication {
                case .ok:
                    body.writeInteger(Int32(0))
                case .cleartextPassword:
                    body.writeInteger(Int32(3))
                case .md5Password(let salt):
                    body.writeInteger(Int32(5))
                    body.writeInteger(salt)
                case .other(let code, var data):
                    body.writeInteger(code)
                    body.writeBuffer(&data)
                }
            }
        case .parameterStatus(let name, let value):
            buffer.writeMessage(type: UInt8(ascii: "S")) { body in
                body.writeWireText(name)
                body.writeWireText(value)
            }
        case .backendKeyData(let key):
            buffer.writeMessage(type: UInt8(ascii: "K")) { body in
                body.writeInteger(key.processID)
                body.writeInteger(key.secretKey)
            }
        case .readyForQuery(let status):
            buffer.writeMessage(type: UInt8(ascii: "Z")) { $0.writeInteger(status.rawValue) }
        case .commandComplete(let tag):
            buffer.writeMessage(type: UInt8(ascii: "C")) { $0.writeWireText(tag) }
        case .errorResponse(let error):
            buffer.writeMessage(type: UInt8(ascii: "E")) { body in
                for field in error.fields {
                    body.writeInteger(field.code)
                    body.writeWireText(field.value)
                }
                body.writeInteger(UInt8(0))
            }
        case .dataRow(let row):
            buffer.writeMessage(type: UInt8(ascii: "D")) { body in
                body.writeInteger(UInt16(row.columns.count))
                for column in row.columns { body.writeValue(column) }
            }
        case .rowDescription(let columns):
            buffer.writeMessage(type: UInt8(ascii: "T")) { body in
                body.writeInteger(UInt16(columns.count))
                for column in columns {
                    body.writeWireText(column.name)
                    body.writeInteger(column.tableOID)
                    body.writeInteger(column.columnAttributeNumber)
                    body.writeInteger(column.typeOID)
                    body.writeInteger(column.typeSize)
                    body.writeInteger(column.typeModifier)
                    body.writeInteger(column.format)
                }
            }
        case .emptyQueryResponse:
            buffer.writeMessage(type: UInt8(ascii: "I")) { _ in }
        case .portalSuspended:
            buffer.writeMessage(type: UInt8(ascii: "s")) { _ in }
        case .other(let type, var body):
            buffer.writeMessage(type: type) { $0.writeBuffer(&body) }
        }
    }
}

/// Writes backend messages on a channel: the proxy's side towards the client.
public struct BackendMessageEncoder: MessageToByteEncoder, Sendable {
    public typealias OutboundIn = BackendMessage

    public init() {}

    public func encode(data: BackendMessage, out: inout ByteBuffer) throws {
        data.encode(into: &out)
    }
}
