import NIOCore

/// Frames and parses what a client sends: first the untyped startup packets, then typed messages.
///
/// Every length is checked against `ProtocolLimits` before the decoder waits for the body, so the
/// buffer never holds more than one message's worth of what the peer declared within the limits.
/// Every error is a `WireProtocolError` and is final: the proxy closes the connection.
public struct FrontendMessageDecoder: WireMessageDecoder, Sendable {
    public typealias InboundOut = FrontendMessage

    enum Phase: Sendable, Hashable {
        /// Before the StartupMessage; which encryption requests were already seen.
        case startup(sslRequested: Bool, gssRequested: Bool)
        case typed
        /// After CancelRequest or Terminate: nothing more may follow.
        case ended
    }

    private(set) var phase: Phase = .startup(sslRequested: false, gssRequested: false)
    public let limits: ProtocolLimits

    public init(limits: ProtocolLimits = .default) {
        self.limits = limits
    }

    public mutating func next(from buffer: inout ByteBuffer) throws -> FrontendMessage? {
        switch phase {
        case .startup(let sslRequested, let gssRequested):
            return try nextStartup(from: &buffer, sslRequested: sslRequested, gssRequested: gssRequested)
        case .typed:
            return try nextTyped(from: &buffer)
        case .ended:
            guard buffer.readableBytes == 0 else { throw WireProtocolError.dataAfterEnd }
            return nil
        }
    }

    private mutating func nextStartup(from buffer: inout ByteBuffer, sslRequested: Bool, gssRequested: Bool) throws -> FrontendMessage? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: Int32.self) else { return nil }
        guard length >= 8 else { throw WireProtocolError.lengthTooSmall(messageType: nil, length: length) }
        guard length <= limits.maxStartupPacketLength else {
            throw WireProtocolError.messageTooLong(messageType: nil, length: Int(length), limit: limits.maxStartupPacketLength)
        }
        guard buffer.readableBytes >= Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        var body = MessageBody(buffer: buffer.readSlice(length: Int(length) - 4)!, type: nil)
        let code = try body.int32("code")

        switch code {
        case FrontendMessage.sslRequestCode, FrontendMessage.gssEncRequestCode:
            let isSSL = code == FrontendMessage.sslRequestCode
            try body.end()
            guard !(isSSL ? sslRequested : gssRequested) else { throw WireProtocolError.repeatedEncryptionRequest }
            // The answer to this request decides whether what follows is encrypted; anything already
            // buffered was sent in the clear before that answer and must not be trusted.
            guard buffer.readableBytes == 0 else { throw WireProtocolError.dataAfterEncryptionRequest }
            phase = .startup(sslRequested: sslRequested || isSSL, gssRequested: gssRequested || !isSSL)
            return isSSL ? .sslRequest : .gssEncRequest
        case FrontendMessage.cancelRequestCode:
            let key = FrontendMessage.BackendKey(processID: try body.int32("process ID"), secretKey: try body.int32("secret key"))
            try body.end()
            phase = .ended
            return .cancelRequest(key)
        case FrontendMessage.protocolVersion3:
            var pairs: [FrontendMessage.StartupMessage.Pair] = []
            while true {
                let name = try body.text("parameter name")
                if name.bytes.isEmpty { break }
                pairs.append(.init(name: name, value: try body.text("value of \(name.string)")))
            }
            try body.end()
            let startup = FrontendMessage.StartupMessage(pairs: pairs)
            // PostgreSQL refuses a startup without a user; so does the proxy, before forwarding anything.
            guard startup.parameter("user").map({ !$0.isEmpty }) == true else { throw body.malformed("no user parameter") }
            phase = .typed
            return .startup(startup)
        default:
            let major = Int(code >> 16)
            // Codes 1234/5678 and up are requests (80877102…); a plausible major is a version we refuse.
            if (1...3).contains(major) {
                throw WireProtocolError.unsupportedProtocolVersion(major: major, minor: Int(code & 0xFFFF))
            }
            throw WireProtocolError.unknownStartupCode(code)
        }
    }

    private mutating func nextTyped(from buffer: inout ByteBuffer) throws -> FrontendMessage? {
        guard let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        // Checked before the length so that a startup packet sent in the wrong phase (it begins with a
        // zero byte) is named for what it is rather than read as an absurd length.
        guard FrontendMessage.knownTypes.contains(type) else { throw WireProtocolError.unknownMessageType(type) }
        guard let length = buffer.getInteger(at: buffer.readerIndex + 1, as: Int32.self) else { return nil }
        guard length >= 4 else { throw WireProtocolError.lengthTooSmall(messageType: type, length: length) }
        // A password or SASL message ('p') comes before anyone is authenticated: it gets the startup
        // packet's small bound, so an anonymous client cannot make the proxy buffer megabytes.
        let limit = type == UInt8(ascii: "p") ? limits.maxStartupPacketLength : limits.maxMessageLength
        guard length <= limit else {
            throw WireProtocolError.messageTooLong(messageType: type, length: Int(length), limit: limit)
        }
        guard buffer.readableBytes >= 1 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 5)
        let body = buffer.readSlice(length: Int(length) - 4)!
        let message = try FrontendMessage.parse(type: type, body: body)
        if case .terminate = message { phase = .ended }
        return message
    }

    /// How many bytes the buffered partial message still lacks, for the truncation error.
    public func missingBytes(in buffer: ByteBuffer) -> Int {
        switch phase {
        case .startup:
            guard let length = buffer.getInteger(at: buffer.readerIndex, as: Int32.self) else { return 4 - buffer.readableBytes }
            return max(Int(length) - buffer.readableBytes, 0)
        case .typed:
            return typedMessageMissingBytes(in: buffer)
        case .ended:
            return 0
        }
    }
}

extension FrontendMessage {
    /// Parses the body of a typed frontend message; strict, so that what parses re-encodes identically.
    public static func parse(type: UInt8, body buffer: ByteBuffer) throws -> FrontendMessage {
        var body = MessageBody(buffer: buffer, type: type)
        let message: FrontendMessage
        switch type {
        case UInt8(ascii: "Q"):
            message = .query(try body.text("query"))
        case UInt8(ascii: "P"):
            let statement = try body.text("statement name")
            let query = try body.text("query")
            let count = try body.count("parameter type count", minimumElementSize: 4)
            var types: [UInt32] = []
            for _ in 0..<count { types.append(try body.uint32("parameter type")) }
            message = .parse(Parse(statement: statement, query: query, parameterTypes: types))
        case UInt8(ascii: "B"):
            let portal = try body.text("portal name")
            let statement = try body.text("statement name")
            let formatCount = try body.count("parameter format count", minimumElementSize: 2)
            var formats: [Int16] = []
            for _ in 0..<formatCount { formats.append(try body.int16("parameter format")) }
            let parameterCount = try body.count("parameter count", minimumElementSize: 4)
            // The server refuses any other combination; refusing it here keeps format(ofParameter:) total.
            guard formatCount <= 1 || formatCount == parameterCount else {
                throw body.malformed("\(formatCount) format codes for \(parameterCount) parameters")
            }
            var parameters: [ByteBuffer?] = []
            for _ in 0..<parameterCount { parameters.append(try body.value("parameter")) }
            let resultCount = try body.count("result format count", minimumElementSize: 2)
            var results: [Int16] = []
            for _ in 0..<resultCount { results.append(try body.int16("result format")) }
            message = .bind(Bind(portal: portal, statement: statement, parameterFormats: formats, parameters: parameters, resultFormats: results))
        case UInt8(ascii: "E"):
            message = .execute(Execute(portal: try body.text("portal name"), maxRows: try body.int32("row limit")))
        case UInt8(ascii: "D"), UInt8(ascii: "C"):
            guard let kind = PreparedObject.Kind(rawValue: try body.byte("kind")) else { throw body.malformed("kind is neither 'S' nor 'P'") }
            let object = PreparedObject(kind: kind, name: try body.text("name"))
            message = type == UInt8(ascii: "D") ? .describe(object) : .close(object)
        case UInt8(ascii: "F"):
            let oid = try body.uint32("function OID")
            let formatCount = try body.count("argument format count", minimumElementSize: 2)
            var formats: [Int16] = []
            for _ in 0..<formatCount { formats.append(try body.int16("argument format")) }
            let argumentCount = try body.count("argument count", minimumElementSize: 4)
            guard formatCount <= 1 || formatCount == argumentCount else {
                throw body.malformed("\(formatCount) format codes for \(argumentCount) arguments")
            }
            var arguments: [ByteBuffer?] = []
            for _ in 0..<argumentCount { arguments.append(try body.value("argument")) }
            message = .functionCall(FunctionCall(functionOID: oid, argumentFormats: formats, arguments: arguments,
                                                 resultFormat: try body.int16("result format")))
        case UInt8(ascii: "S"):
            message = .sync
        case UInt8(ascii: "H"):
            message = .flush
        case UInt8(ascii: "X"):
            message = .terminate
        case UInt8(ascii: "p"):
            // 'p' is also SASLInitialResponse/SASLResponse/GSSResponse, which are not one string: only a
            // body that is exactly one string is a password; the rest passes through for the auth layer.
            var probe = body
            if let password = probe.buffer.readWireText(), probe.buffer.readableBytes == 0 {
                return .password(password)
            }
            return .other(type: type, body: buffer)
        default:
            return .other(type: type, body: buffer)
        }
        try body.end()
        return message
    }
}
