/// Writes a sealed audit body byte for byte as the chain's JSONEncoder writes it (sorted keys, no whitespace,
/// slashes unescaped, `Timestamp` dates), without the encoder: a JSONEncoder per event was a visible share of
/// the broker's CPU per activation. The bytes are what gets hashed, so where this writer could differ from the
/// encoder it declines and `AuditChain.seal` uses the encoder: a key the encoder might sort other than by bytes
/// (anything but `a`-`z` and `_`), or a control character it would write as `\u` (only the short escapes are
/// written here). `CanonicalAuditBodyTests` holds the two to the same bytes.
public enum CanonicalAuditBody {
    public static func write(_ event: AuditEvent, shard: Int, seq: Int64) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        func raw(_ text: StaticString) {
            text.withUTF8Buffer { out.append(contentsOf: $0) }
        }
        func string(_ text: String) -> Bool {
            out.append(0x22)
            for byte in text.utf8 {
                switch byte {
                case 0x22: out.append(0x5C); out.append(0x22)
                case 0x5C: out.append(0x5C); out.append(0x5C)
                case 0x0A: out.append(0x5C); out.append(0x6E)
                case 0x0D: out.append(0x5C); out.append(0x72)
                case 0x09: out.append(0x5C); out.append(0x74)
                case 0x08: out.append(0x5C); out.append(0x62)
                case 0x0C: out.append(0x5C); out.append(0x66)
                case ..<0x20: return false
                default: out.append(byte)
                }
            }
            out.append(0x22)
            return true
        }
        func strings(_ values: [String]) -> Bool {
            out.append(0x5B)
            for (i, value) in values.enumerated() {
                if i > 0 { out.append(0x2C) }
                guard string(value) else { return false }
            }
            out.append(0x5D)
            return true
        }
        /// `,"key":"value"` for a value that is present.
        func member(_ key: StaticString, _ value: String?) -> Bool {
            guard let value else { return true }
            raw(key)
            return string(value)
        }
        func decimal(_ value: Int64) {
            out.append(contentsOf: String(value).utf8)
        }

        // Members in the order sorted keys give them; absent optionals are left out, as the encoder leaves them.
        raw("{\"event\":{")
        var first = true
        if let actor = event.actor {
            raw("\"actor\":")
            guard string(actor) else { return nil }
            first = false
        }
        raw(first ? "\"actorRoles\":" : ",\"actorRoles\":")
        guard strings(event.actorRoles) else { return nil }
        raw(",\"at\":")
        guard string(Timestamp.format(event.at)), member(",\"clientAddress\":", event.clientAddress) else { return nil }
        raw(",\"controls\":")
        guard strings(event.controls) else { return nil }
        raw(",\"details\":{")
        let keys = event.details.keys.sorted()
        for (i, key) in keys.enumerated() {
            guard !key.isEmpty, key.utf8.allSatisfy({ $0 == 0x5F || (0x61...0x7A).contains($0) }) else { return nil }
            if i > 0 { out.append(0x2C) }
            guard string(key) else { return nil }
            out.append(0x3A)
            guard string(event.details[key] ?? "") else { return nil }
        }
        raw("}")
        guard member(",\"incident\":", event.incident) else { return nil }
        raw(",\"outcome\":")
        guard string(event.outcome.rawValue), member(",\"reason\":", event.reason), member(",\"sessionId\":", event.sessionId),
              member(",\"target\":", event.target) else { return nil }
        raw(",\"type\":")
        guard string(event.type.rawValue), member(",\"userAgent\":", event.userAgent) else { return nil }
        raw("},\"seq\":")
        decimal(seq)
        raw(",\"shard\":")
        decimal(Int64(shard))
        raw(",\"v\":1}")
        return String(decoding: out, as: UTF8.self)
    }
}
