import BreakglassCore
import Foundation
import Logging
import PostgresNIO

/// Creates a database and the server's unprivileged login role, as a superuser. Used by the embedded
/// default and by the test harness, so both run exactly the production role layout.
public enum Provisioning {
    public static func prepare(superuser: DatabaseConfig, database: String, runtimeUser: String, runtimePassword: String,
                               logger: Logger) async throws {
        try await Database.withDatabase(superuser, logger: logger) { admin in
            try await admin.read { tx in
                // Identifiers cannot be bind parameters; these come from our own constants or test names, checked here.
                for name in [database, runtimeUser] where name.range(of: "^[a-z_][a-z0-9_]{0,62}$", options: .regularExpression) == nil {
                    throw BreakglassError(.internalFailure, "bad_identifier", "'\(name)' is not a safe PostgreSQL identifier")
                }
                let exists = try await tx.query("SELECT 1 FROM pg_database WHERE datname = \(database)").collect()
                if exists.isEmpty {
                    try await tx.execute(PostgresQuery(unsafeSQL: "CREATE DATABASE \(database)"))
                }
                let escaped = runtimePassword.replacingOccurrences(of: "'", with: "''")
                try await tx.execute(PostgresQuery(unsafeSQL: """
                    DO $$ BEGIN
                        BEGIN CREATE ROLE breakglass_app NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
                        BEGIN CREATE ROLE \(runtimeUser) LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
                    END $$
                    """))
                try await tx.execute(PostgresQuery(unsafeSQL: "ALTER ROLE \(runtimeUser) WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '\(escaped)'"))
                try await tx.execute(PostgresQuery(unsafeSQL: "GRANT breakglass_app TO \(runtimeUser)"))
            }
        }
    }
}
