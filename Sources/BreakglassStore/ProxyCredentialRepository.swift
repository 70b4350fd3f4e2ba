import BreakglassCore
import Foundation
import PostgresNIO

/// What the recording proxy needs to let a `recorded` session's client in and log in to the target for it:
/// the hash of the proxy token the engineer was given, and the role's password sealed to the session.
public struct ProxyCredentialRecord: Sendable {
    public var sessionId: String
    public var tokenHash: [UInt8]
    public var rolePasswordEnc: [UInt8]
}

/// The recording proxy's secrets of each `recorded` session, kept while the session is open.
public struct ProxyCredentialRepository: Repository {
    let tx: Tx

    public func insert(sessionId: String, tokenHash: [UInt8], rolePasswordEnc: [UInt8], now: Date) async throws {
        try await execute("""
            INSERT INTO session_proxy_credentials (session_id, token_hash, role_password_enc, created_at)
            VALUES (\(sessionId), \(Data(tokenHash)), \(Data(rolePasswordEnc)), \(now))
            """)
    }

    public func find(sessionId: String) async throws -> ProxyCredentialRecord? {
        let rows = try await query("""
            SELECT token_hash, role_password_enc FROM session_proxy_credentials WHERE session_id = \(sessionId)
            """)
        for try await (hash, sealed) in rows.decode((Data, Data).self) {
            return ProxyCredentialRecord(sessionId: sessionId, tokenHash: Array(hash), rolePasswordEnc: Array(sealed))
        }
        return nil
    }

    /// Forgets a closed session's proxy secrets: nothing left in the store could log in as its role.
    public func delete(sessionId: String) async throws {
        try await execute("DELETE FROM session_proxy_credentials WHERE session_id = \(sessionId)")
    }
}
