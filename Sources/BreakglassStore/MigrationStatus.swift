import Foundation
import PostgresNIO

/// How a database's recorded migrations compare with the files of this build, without changing anything
/// (`breakglassd check`). `Migrator.migrate` refuses a database with changed or unknown migrations.
public struct MigrationStatus: Sendable, Equatable {
    public var applied: [String]
    public var pending: [String]
    /// Applied, but the file's checksum differs from the one recorded.
    public var changed: [String]
    /// Recorded in the database, unknown to this build (a newer one migrated it).
    public var unknown: [String]

    public var isCurrent: Bool { pending.isEmpty && changed.isEmpty && unknown.isEmpty }
}

extension Migrator {
    public func status(_ tx: Tx) async throws -> MigrationStatus {
        let recorded = try await Self.recorded(on: tx.connection, logger: tx.logger)
        let known = Set(migrations.map(\.version))
        return MigrationStatus(
            applied: migrations.filter { recorded[$0.version] != nil }.map(\.name),
            pending: migrations.filter { recorded[$0.version] == nil }.map(\.name),
            changed: migrations.filter { migration in recorded[migration.version].map { $0.checksum != migration.checksum } ?? false }.map(\.name),
            unknown: recorded.keys.sorted().filter { !known.contains($0) }.compactMap { recorded[$0]?.name })
    }
}
