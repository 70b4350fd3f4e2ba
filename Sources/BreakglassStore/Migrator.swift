import BreakglassCore
import Crypto
import Foundation
import Logging
import PostgresNIO

public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let sql: String
    public var checksum: String { SHA256.hash(data: Data(sql.utf8)).hex }

    /// Checksums of earlier versions of this file that a database may have recorded, declared in the file
    /// itself (`-- replaces checksum HEX`) when a file had to be amended without changing its effect on a
    /// database that already applied it. Anything else that differs is refused.
    public var acceptedEarlierChecksums: Set<String> {
        Set(sql.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("-- replaces checksum ") else { return nil }
            return String(line.dropFirst("-- replaces checksum ".count)).trimmingCharacters(in: .whitespaces)
        })
    }
}

/// Applies the numbered files in `sql/` in order, each exactly once, recording a checksum. Holds a
/// PostgreSQL advisory lock so two instances starting together do not both migrate.
public struct Migrator: Sendable {
    public let migrations: [Migration]
    static let lockKey: Int64 = 0x6272_6561_6b67_6c61  // "breakgla"

    public init(migrations: [Migration]) { self.migrations = migrations }

    /// The repository's `sql/` folder, or `BREAKGLASS_SQL_DIR` when the binaries run elsewhere.
    public static func defaultDirectory(environment: [String: String]) -> URL {
        if let dir = environment["BREAKGLASS_SQL_DIR"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("sql")
    }

    public static func load(directory: URL) throws -> Migrator {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }.sorted()
        } catch {
            throw BreakglassError(.internalFailure, "migrations_missing",
                                  "cannot read migrations in \(directory.path); set BREAKGLASS_SQL_DIR to the sql/ folder")
        }
        var migrations: [Migration] = []
        for file in files {
            guard let version = Int(file.prefix(while: \.isNumber)), file.first?.isNumber == true else {
                throw BreakglassError(.internalFailure, "migration_name", "migration \(file) must start with its number, e.g. 0001_name.sql")
            }
            if migrations.contains(where: { $0.version == version }) {
                throw BreakglassError(.internalFailure, "migration_name", "two migrations share number \(version)")
            }
            let sql = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            migrations.append(Migration(version: version, name: file, sql: sql))
        }
        return Migrator(migrations: migrations)
    }

    /// The migrations up to `version` only: the schema an older build left behind, for rehearsing upgrades.
    public func upTo(_ version: Int) -> Migrator { Migrator(migrations: migrations.filter { $0.version <= version }) }

    /// Applies what is missing; returns the names applied now.
    @discardableResult
    public func migrate(_ database: Database, logger: Logger) async throws -> [String] {
        do {
            return try await database.client.withConnection { connection in
                _ = try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger).collect()
                do {
                    let applied = try await apply(on: connection, logger: logger)
                    _ = try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger).collect()
                    return applied
                } catch {
                    _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger).collect()
                    throw error
                }
            }
        } catch let error as BreakglassError {
            throw error
        } catch {
            throw Database.translate(error, logger: logger)
        }
    }

    private func apply(on connection: PostgresConnection, logger: Logger) async throws -> [String] {
        _ = try await connection.query("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
            """, logger: logger).collect()
        let recorded = try await Self.recorded(on: connection, logger: logger)
        try check(recorded: recorded)
        var applied: [String] = []
        for migration in migrations where recorded[migration.version] == nil {
            logger.info("applying migration", metadata: ["migration.name": "\(migration.name)"])
            do {
                _ = try await connection.query("BEGIN", logger: logger).collect()
                for statement in SQLScript.statements(migration.sql) {
                    _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger).collect()
                }
                _ = try await connection.query(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (\(migration.version), \(migration.name), \(migration.checksum))",
                    logger: logger).collect()
                _ = try await connection.query("COMMIT", logger: logger).collect()
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger).collect()
                let detail = (error as? PSQLError)?.serverInfo?[.message] ?? "\(error)"
                throw BreakglassError(.internalFailure, "migration_failed", "migration \(migration.name) failed: \(detail)")
            }
            applied.append(migration.name)
        }
        return applied
    }

    /// Refuses a database whose applied migrations differ from these files.
    func check(recorded: [Int: (name: String, checksum: String)]) throws {
        for migration in migrations {
            if let entry = recorded[migration.version], entry.checksum != migration.checksum,
               !migration.acceptedEarlierChecksums.contains(entry.checksum) {
                throw BreakglassError(.internalFailure, "migration_changed",
                                      "migration \(migration.name) was changed after it was applied (checksum differs); restore the original file and add a new migration instead")
            }
        }
        let known = Set(migrations.map(\.version))
        if let unknown = recorded.keys.sorted().first(where: { !known.contains($0) }) {
            throw BreakglassError(.internalFailure, "migration_unknown",
                                  "the database has migration \(recorded[unknown]!.name), which this build does not know; run a newer breakglassd")
        }
    }

    /// Pending migration names, or an error if the recorded ones differ. Used by `/readyz`.
    public func pending(_ tx: Tx) async throws -> [String] {
        let recorded = try await Self.recorded(on: tx.connection, logger: tx.logger)
        try check(recorded: recorded)
        return migrations.filter { recorded[$0.version] == nil }.map(\.name)
    }

    static func recorded(on connection: PostgresConnection, logger: Logger) async throws -> [Int: (name: String, checksum: String)] {
        var out: [Int: (name: String, checksum: String)] = [:]
        let exists = try await connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL", logger: logger)
        for try await present in exists.decode(Bool.self) where !present { return out }
        let rows = try await connection.query("SELECT version, name, checksum FROM schema_migrations", logger: logger)
        for try await (version, name, checksum) in rows.decode((Int, String, String).self) {
            out[version] = (name, checksum)
        }
        return out
    }
}
