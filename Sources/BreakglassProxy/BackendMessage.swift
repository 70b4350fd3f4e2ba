import NIOCore

/// A message from the server, as far as the proxy needs to understand it: authentication, the
/// session's parameters and key, and what a statement produced. Everything else is `.other`.
/// Like `FrontendMessage`, every decoded case re-encodes to the bytes it came from.
public enum BackendMessage: Sendable, Hashable {
    case authentication(Authentication)
    case parameterStatus(name: WireText, value: WireText)
    case backendKeyData(FrontendMessage.BackendKey)
    case readyForQuery(TransactionStatus)
    case commandComplete(tag: WireText)
    case errorResponse(ErrorFields)
    case dataRow(DataRow)
    case rowDescription([ColumnDescription])
    /// 'I': the answer to an empty query string, in place of CommandComplete.
    case emptyQueryResponse
    /// 's': Execute stopped at its row limit; the portal can be executed again.
    case portalSuspended
    case other(type: UInt8, body: ByteBuffer)

    public enum Authentication: Sendable, Hashable {
        case ok
        case cleartextPassword
        case md5Password(salt: UInt32)
        /// SASL, GSS, SSPI and their continuations: passed through for whoever handles them.
        case other(code: Int32, data: ByteBuffer)
    }

    public enum TransactionStatus: UInt8, Sendable, Hashable {
        case idle = 0x49  // 'I'
        case inTransaction = 0x54  // 'T'
        case failedTransaction = 0x45  // 'E'
    }

    /// ErrorResponse (and NoticeResponse) fields in the order sent: a one-byte code and a string.
    public struct ErrorFields: Sendable, Hashable {
        public struct Field: Sendable, Hashable {
            public var code: UInt8
            public var value: WireText
            public init(code: UInt8, value: WireText) {
                self.code = code
                self.value = value
            }
        }
        public var fields: [Field]

        public init(fields: [Field]) {
            self.fields = fields
        }

        /// An error the proxy itself raises towards the client, with the fields psql shows.
        public init(severity: String, sqlState: String, message: String) {
            self.fields = [
                Field(code: UInt8(ascii: "S"), value: WireText(severity)),
                // 'V' is the non-localised severity that clients since 9.6 read.
                Field(code: UInt8(ascii: "V"), value: WireText(severity)),
                Field(code: UInt8(ascii: "C"), value: WireText(sqlState)),
                Field(code: UInt8(ascii: "M"), value: WireText(message)),
            ]
        }

        public func value(_ code: Character) -> String? {
            guard let ascii = code.asciiValue else { return nil }
            return fields.last { $0.code == ascii }?.value.string
        }

        public var sqlState: String? { value("C") }
        public var message: String? { value("M") }
        public var severity: String? { value("V") ?? value("S") }
    }

    /// A row's values, kept as slices of the received buffer: the proxy counts rows, it does not read them.
    public struct DataRow: Sendable, Hashable {
        /// nil is SQL NULL.
        public var columns: [ByteBuffer?]
        public init(columns: [ByteBuffer?]) {
            self.columns = columns
        }
    }

    public struct ColumnDescription: Sendable, Hashable {
        public var name: WireText
        public var tableOID: UInt32
        public var columnAttributeNumber: Int16
        public var typeOID: UInt32
        public var typeSize: Int16
        public var typeModifier: Int32
        public var format: Int16
        public init(name: WireText, tableOID: UInt32, columnAttributeNumber: Int16, typeOID: UInt32, typeSize: Int16, typeModifier: Int32, format: Int16) {
            self.name = name
            self.tableOID = tableOID
            self.columnAttributeNumber = columnAttributeNumber
            self.typeOID = typeOID
            self.typeSize = typeSize
            self.typeModifier = typeModifier
            self.format = format
        }
    }
}
