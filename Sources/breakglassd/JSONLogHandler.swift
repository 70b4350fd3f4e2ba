import Foundation
import Logging

/// One JSON object per line on stderr (`BREAKGLASS_LOG_FORMAT=json`), for log shippers: `time`, `level`,
/// `label`, `message` and `metadata` with the dotted keys the code logs (`session.id`, `http.url`).
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let explicit = event.metadata
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit { merged.merge(explicit) { $1 } }
        let record = Record(time: Self.timestamp(Date()), level: event.level.rawValue, label: label, message: event.message.description,
                            metadata: merged.mapValues(Value.init))
        guard var line = try? Self.encoder.encode(record) else { return }
        line.append(0x0A)
        // One write per record, so lines from concurrent tasks do not interleave.
        FileHandle.standardError.write(line)
    }

    struct Record: Encodable {
        var time: String
        var level: String
        var label: String
        var message: String
        var metadata: [String: Value]
    }

    /// A metadata value as JSON: strings stay strings, arrays and dictionaries nest.
    enum Value: Encodable {
        case string(String)
        case array([Value])
        case dictionary([String: Value])

        init(_ value: Logger.Metadata.Value) {
            switch value {
            case .string(let text): self = .string(text)
            case .stringConvertible(let value): self = .string(value.description)
            case .array(let values): self = .array(values.map(Value.init))
            case .dictionary(let values): self = .dictionary(values.mapValues(Value.init))
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .string(let text): try container.encode(text)
            case .array(let values): try container.encode(values)
            case .dictionary(let values): try container.encode(values)
            }
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: true).timeSeparator(.colon)) + "Z"
    }
}

/// `BREAKGLASS_LOG_FORMAT`: `text` (default, swift-log's stream handler) or `json`. Read once per process,
/// before the first logger exists; a bad value is reported by `Runtime.settings()` with the key's name.
enum LogOutput {
    static let format: Result<String, ValidationFailure> = {
        switch ProcessInfo.processInfo.environment["BREAKGLASS_LOG_FORMAT"]?.lowercased() {
        case nil, "", "text": return .success("text")
        case "json": return .success("json")
        case let other?: return .failure(ValidationFailure(message: "BREAKGLASS_LOG_FORMAT '\(other)' must be text or json"))
        }
    }()

    static let bootstrapped: Bool = {
        if case .success("json") = format { LoggingSystem.bootstrap { JSONLogHandler(label: $0) } }
        return true
    }()

    struct ValidationFailure: Error { let message: String }
}
