import NIOCore

/// A message from a client (psql, a driver) to the server, as far as the proxy needs to understand it.
///
/// Messages the proxy only forwards are `.other` with their body untouched. Every case re-encodes to
/// the exact bytes it was decoded from (`encode(into:)`), which is what lets the proxy record a
/// message and still forward what the client sent rather than its own rendering of it.
public enum FrontendMessage: Sendable, Hashable {
    // Untyped: the first packets of a connection.
    case startup(StartupMessage)
    case sslRequest
    case gssEncRequest
    case cancelRequest(BackendKey)

    // Typed.
    case query(WireText)
    case parse(Parse)
    case bind(Bind)
    case execute(Execute)
    case describe(PreparedObject)
    case close(PreparedObject)
    case sync
    case flush
    case terminate
    /// 'p' answering `AuthenticationCleartextPassword`; SASL and GSS responses share the type byte
    /// and arrive as `.other` (see `FrontendMessageDecoder`).
    case password(WireText)
    /// 'F': calls a function by OID outside SQL (libpq's PQfn, used by psql's \lo_import). It runs
    /// code on the server, so it is recorded like a statement.
    case functionCall(FunctionCall)
    case other(type: UInt8, body: ByteBuffer)

    public static let sslRequestCode: Int32 = 80_877_103
    public static let gssEncRequestCode: Int32 = 80_877_104
    public static let cancelRequestCode: Int32 = 80_877_102
    public static let protocolVersion3: Int32 = 196_608

    /// Type bytes a client may send after startup (protocol 3.0, frontend column of the spec).
    static let knownTypes: Set<UInt8> = Set("BCcdDEfFHPpQSX".utf8)

    public struct StartupMessage: Sendable, Hashable {
        /// Ordered as sent; PostgreSQL lets a later duplicate win, and the proxy must not reorder.
        public var parameters: [(name: WireText, value: WireText)] {
            get { pairs.map { ($0.name, $0.value) } }
            set { pairs = newValue.map { Pair(name: $0.name, value: $0.value) } }
        }
        struct Pair: Sendable, Hashable { var name: WireText; var value: WireText }
        var pairs: [Pair]

        public init(parameters: [(name: WireText, value: WireText)]) {
            self.pairs = parameters.map { Pair(name: $0.name, value: $0.value) }
        }

        init(pairs: [Pair]) {
            self.pairs = pairs
        }

        /// The last value given for `name`, as PostgreSQL would take it.
        public func parameter(_ name: String) -> String? {
            pairs.last { $0.name.string == name }?.value.string
        }
    }

    public struct BackendKey: Sendable, Hashable {
        public var processID: Int32
        public var secretKey: Int32
        public init(processID: Int32, secretKey: Int32) {
            self.processID = processID
            self.secretKey = secretKey
        }
    }

    public struct Parse: Sendable, Hashable {
        public var statement: WireText
        public var query: WireText
        public var parameterTypes: [UInt32]
        public init(statement: WireText, query: WireText, parameterTypes: [UInt32] = []) {
            self.statement = statement
            self.query = query
            self.parameterTypes = parameterTypes
        }
    }

    public struct Bind: Sendable, Hashable {
        public var portal: WireText
        public var statement: WireText
        /// None (all text), one (applies to all) or one per parameter; 0 text, 1 binary.
        public var parameterFormats: [Int16]
        /// nil is SQL NULL.
        public var parameters: [ByteBuffer?]
        public var resultFormats: [Int16]
        public init(portal: WireText, statement: WireText, parameterFormats: [Int16], parameters: [ByteBuffer?], resultFormats: [Int16]) {
            self.portal = portal
            self.statement = statement
            self.parameterFormats = parameterFormats
            self.parameters = parameters
            self.resultFormats = resultFormats
        }

        /// The format of parameter `index` by the protocol's rule for 0, 1 or n format codes.
        public func format(ofParameter index: Int) -> Int16 {
            formatCode(parameterFormats, index)
        }
    }

    public struct FunctionCall: Sendable, Hashable {
        public var functionOID: UInt32
        /// Same rule as Bind: none, one for all, or one per argument.
        public var argumentFormats: [Int16]
        /// nil is SQL NULL.
        public var arguments: [ByteBuffer?]
        public var resultFormat: Int16
        public init(functionOID: UInt32, argumentFormats: [Int16], arguments: [ByteBuffer?], resultFormat: Int16) {
            self.functionOID = functionOID
            self.argumentFormats = argumentFormats
            self.arguments = arguments
            self.resultFormat = resultFormat
        }
    }

    public struct Execute: Sendable, Hashable {
        public var portal: WireText
        /// 0 is "no limit"; otherwise the server may answer PortalSuspended.
        public var maxRows: Int32
        public init(portal: WireText, maxRows: Int32 = 0) {
            self.portal = portal
            self.maxRows = maxRows
        }
    }

    /// The target of Describe and Close: a prepared statement ('S') or a portal ('P').
    public struct PreparedObject: Sendable, Hashable {
        public enum Kind: UInt8, Sendable, Hashable {
            case statement = 0x53  // 'S'
            case portal = 0x50  // 'P'
        }
        public var kind: Kind
        public var name: WireText
        public init(kind: Kind, name: WireText) {
            self.kind = kind
            self.name = name
        }
    }
}

/// The protocol's rule for format codes: none means text, one applies to all, else one each. A
/// message built with another count (the decoder refuses those) reads as binary, so it is recorded in
/// hex rather than crashing the proxy.
func formatCode(_ formats: [Int16], _ index: Int) -> Int16 {
    switch formats.count {
    case 0: 0
    case 1: formats[0]
    default: formats.indices.contains(index) ? formats[index] : 1
    }
}
