import BreakglassCore
import Foundation
import OpenAPIRuntime

/// Times as the broker writes them (UTC ISO 8601 with milliseconds), read as RFC 3339 times and nothing more
/// (`Timestamp.parseExact`): the one transcoder the generated server and client both use, so a time reads back as
/// it was written and a time with anything after it is refused, not cut short.
public struct BrokerTimestamps: DateTranscoder {
    public init() {}

    public func encode(_ date: Date) throws -> String { Timestamp.format(date) }

    public func decode(_ text: String) throws -> Date {
        guard let date = Timestamp.parseExact(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "'\(text)' is not an ISO 8601 time"))
        }
        return date
    }
}

extension Configuration {
    /// JSON as the broker has always written it: sorted keys, compact, slashes unescaped, broker timestamps.
    public static let broker = Configuration(dateTranscoder: BrokerTimestamps(), jsonEncodingOptions: [.sortedKeys, .withoutEscapingSlashes])
}
