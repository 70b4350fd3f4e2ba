import BreakglassTestSupport
import Foundation

extension BrokerTestCase {
    /// The environment of a real `breakglassd` on this test's database (runtime role to serve, owner to
    /// migrate) with the in-process server's master key, plus `extra`.
    func processEnvironment(_ extra: [String: String] = [:]) throws -> [String: String] {
        ["DATABASE_URL": database.runtime.urlWithPassword, "BREAKGLASS_MIGRATION_DATABASE_URL": database.owner.urlWithPassword,
         "BREAKGLASS_MASTER_KEY_FILE": try server.writeMasterKeyFile(in: scratch)].merging(extra) { $1 }
    }
}
