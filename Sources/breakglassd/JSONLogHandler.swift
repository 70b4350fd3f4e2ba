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
        let record: [String: Any] = [
            "time": Self.timestamp(Date()), "level": event.level.rawValue, "label": label, "message": event.message.description,
            "metadata": merged.mapValues(Self.json),
        ]
        guard var line = try? JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        line.append(0x0A)
        // One write per record, so lines from concurrent tasks do not interleave.
        FileHandle.standardError.write(line)
    }

    static func json(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let text): return text
        case .stringConvertible(let value): return value.description
        case .array(let values): return values.map(json)
        case .dictionary(let values): return values.mapValues(json)
        }
    }

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
