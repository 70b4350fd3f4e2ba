import BreakglassCore
import BreakglassServer
import BreakglassStore
import Foundation
import Logging

/// The broker's database as `breakglassd` finds it (DATABASE_URL, BREAKGLASS_MASTER_KEY_FILE), for the
/// commands that load it in process rather than over HTTP.
enum BenchDatabase {
    static let logger: Logger = {
        var logger = Logger(label: "breakglass-bench")
        logger.logLevel = .warning
        return logger
    }()

    /// Opens the pool for `body`. Bulk loads run far longer than a request may, hence the generous deadline.
    static func with<T: Sendable>(_ environment: [String: String], for command: String,
                                  _ body: @Sendable (Database) async throws -> T) async throws -> T {
        guard let url = environment["DATABASE_URL"] else { throw BenchFailure("\(command) needs DATABASE_URL, as breakglassd has") }
        return try await Database.withDatabase(try DatabaseConfig.parse(url: url), logger: logger, deadline: .seconds(3600), body)
    }

    /// The broker over that database, with the master key `breakglassd` was given.
    static func broker(_ database: Database, environment: [String: String], for command: String) async throws -> Broker {
        guard let keyFile = environment["BREAKGLASS_MASTER_KEY_FILE"] else {
            throw BenchFailure("\(command) needs BREAKGLASS_MASTER_KEY_FILE, as breakglassd has")
        }
        let keyText = try String(contentsOfFile: keyFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let key = Data(base64Encoded: keyText) else { throw BenchFailure("\(keyFile) is not base64") }
        return try await Broker.start(database: database, clock: SystemClock(), box: try SecretBox(keyBytes: Array(key)), settings: .init(),
                                      logger: logger)
    }
}
