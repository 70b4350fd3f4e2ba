import Foundation

/// Whether a chain row's body is a well-formed audit event sealed as entry `seq` of `shard`, and the time
/// it seals. The rule is the one verify always applied: the body decodes as a canonical body and names
/// that shard and sequence number. Bodies as our encoder writes them are read by a byte scanner (a
/// JSONDecoder per row was most of verify's time); any other body still goes through JSONDecoder.
enum AuditBodyCheck {
    /// The hashed event time, or nil when the body is not a well-formed event of that shard and sequence.
    static func sealedTime(body: String, shard: Int, seq: Int64) -> Date? {
        let scanned = body.utf8.withContiguousStorageIfAvailable { bytes -> Scan in
            var scanner = CanonicalJSONScanner(bytes)
            return scanner.canonicalBody()
        } ?? .notCanonical
        switch scanned {
        case let .sealed(bodyShard, bodySeq, at):
            // The scanner read the only `"shard":` and `"seq":` members such a body can hold, each followed by
            // a comma: equal values are exactly what the textual check below finds.
            return bodyShard == shard && bodySeq == seq ? at : nil
        case .notCanonical:
            guard let event = AuditChain.decode(body: body), body.contains("\"shard\":\(shard),"),
                  body.contains("\"seq\":\(seq),") else { return nil }
            return event.at
        }
    }

    enum Scan {
        case sealed(shard: Int, seq: Int64, at: Date)
        case notCanonical
    }
}

extension CanonicalJSONScanner {
    /// `{"event":{…},"seq":N,"shard":N,"v":N}`, the event's members those of `AuditEvent`, each at most once.
    mutating func canonicalBody() -> AuditBodyCheck.Scan {
        guard take("{\"event\":{"), let at = eventMembers(), take("},\"seq\":"), let seq = integer(),
              take(",\"shard\":"), let shard = integer(), take(",\"v\":"), integer() != nil, take(0x7D), atEnd else {
            return .notCanonical
        }
        return .sealed(shard: Int(shard), seq: seq, at: at)
    }

    private mutating func eventMembers() -> Date? {
        var seen: UInt16 = 0
        var at: Date?
        var previous: Range<Int>?
        repeat {
            guard let key = key(after: previous), let member = EventMember(key, in: self),
                  seen & member.bit == 0 else { return nil }
            seen |= member.bit
            previous = key
            switch member {
            case .actorRoles, .controls:
                guard stringArray() else { return nil }
            case .details:
                guard stringObject() else { return nil }
            case .at, .outcome, .type:
                guard take(0x22), let (value, plain) = string(), plain else { return nil }
                switch member {
                case .at:
                    guard let time = timestamp(value) else { return nil }
                    at = time
                case .outcome:
                    guard equals(value, "success") || equals(value, "failure") else { return nil }
                default:
                    guard Self.eventTypes.contains(where: { $0.elementsEqual(bytes[value]) }) else { return nil }
                }
            default:
                guard take(0x22), string() != nil else { return nil }
            }
        } while take(0x2C)
        guard seen & EventMember.required == EventMember.required else { return nil }
        return at
    }

    private static let eventTypes: [[UInt8]] = AuditEventType.allCases.map { Array($0.rawValue.utf8) }

    /// The members of `AuditEvent` as its synthesized Codable names them.
    private enum EventMember: UInt16 {
        case actor, actorRoles, at, clientAddress, controls, details, incident, outcome, reason, sessionId, target, type, userAgent

        var bit: UInt16 { 1 << rawValue }
        /// The non-optional properties: a body without one of them does not decode.
        static let required: UInt16 = [actorRoles, at, controls, details, outcome, type].reduce(0) { $0 | $1.bit }

        private static let names: [(StaticString, EventMember)] = [
            ("actor", .actor), ("actorRoles", .actorRoles), ("at", .at), ("clientAddress", .clientAddress),
            ("controls", .controls), ("details", .details), ("incident", .incident), ("outcome", .outcome),
            ("reason", .reason), ("sessionId", .sessionId), ("target", .target), ("type", .type), ("userAgent", .userAgent),
        ]

        init?(_ key: Range<Int>, in scanner: CanonicalJSONScanner) {
            guard let match = Self.names.first(where: { scanner.equals(key, $0.0) }) else { return nil }
            self = match.1
        }
    }
}
