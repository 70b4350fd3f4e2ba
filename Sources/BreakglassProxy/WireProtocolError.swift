/// Why a byte stream is not PostgreSQL protocol 3.0. Every case ends the connection: after a framing
/// error the proxy can no longer tell where the next message starts, so it must not guess.
public enum WireProtocolError: Error, Sendable, Hashable {
    /// A length field below its own size (4), or below 8 for a startup packet.
    case lengthTooSmall(messageType: UInt8?, length: Int32)
    /// A declared length over the configured limit; refused before anything is buffered.
    case messageTooLong(messageType: UInt8?, length: Int, limit: Int)
    /// A startup packet asking for a protocol other than 3.0.
    case unsupportedProtocolVersion(major: Int, minor: Int)
    /// A startup packet whose code is no version and no known request.
    case unknownStartupCode(Int32)
    /// A typed message whose type byte the protocol does not define for this side.
    case unknownMessageType(UInt8)
    /// A message whose body does not match its type's layout.
    case malformedMessage(messageType: UInt8?, reason: String)
    /// Bytes that arrived together with an SSLRequest or GSSENCRequest: they were sent before
    /// encryption was agreed and could be an injection (the CVE-2021-23214 class), so they are refused.
    case dataAfterEncryptionRequest
    /// A second SSLRequest or GSSENCRequest of the same kind.
    case repeatedEncryptionRequest
    /// Bytes after a CancelRequest or Terminate, which end the conversation.
    case dataAfterEnd
    /// The connection closed in the middle of a message.
    case truncatedMessage(missingBytes: Int)
}
