import BreakglassProxy
import NIOCore

/// Builds byte vectors the way the spec prints them: integers big-endian, strings with their NUL.
func int32(_ value: Int32) -> [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }
func int16(_ value: Int16) -> [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }
func cstring(_ text: String) -> [UInt8] { Array(text.utf8) + [0] }
func ascii(_ character: Character) -> [UInt8] { [character.asciiValue!] }

func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

extension FrontendMessage {
    var bytes: [UInt8] {
        var out = ByteBuffer()
        encode(into: &out)
        return Array(out.readableBytesView)
    }
}

extension BackendMessage {
    var bytes: [UInt8] {
        var out = ByteBuffer()
        encode(into: &out)
        return Array(out.readableBytesView)
    }
}

/// Decodes every whole message in `bytes`; throws the decoder's error.
func decodeFrontend(_ bytes: [UInt8], startup: Bool = false, limits: ProtocolLimits = .default) throws -> [FrontendMessage] {
    var decoder = FrontendMessageDecoder(limits: limits)
    var input = buffer(bytes)
    var messages: [FrontendMessage] = []
    if !startup {
        // Typed phase: get past a startup packet first.
        var prelude = buffer(FrontendMessage.startup(.init(parameters: [("user", "alice")])).bytes)
        _ = try decoder.next(from: &prelude)
    }
    while let message = try decoder.next(from: &input) { messages.append(message) }
    return messages
}

func decodeBackend(_ bytes: [UInt8], limits: ProtocolLimits = .default) throws -> [BackendMessage] {
    let decoder = BackendMessageDecoder(limits: limits)
    var input = buffer(bytes)
    var messages: [BackendMessage] = []
    while let message = try decoder.next(from: &input) { messages.append(message) }
    return messages
}

/// Deterministic generator for the fuzz tests (SplitMix64): the same seed, the same cases.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
