import BreakglassCore
import Foundation
import PostgresNIO

/// The token signing keys (private halves sealed with the master key).
public struct SigningKeyRepository: Repository {
    let tx: Tx

    /// Unretired keys, newest first: the first signs, all are published in the JWKS.
    public func unretired() async throws -> [SigningKeyRecord] {
        var out: [SigningKeyRecord] = []
        for try await (kid, alg, pub, priv, created) in try await query("""
            SELECT kid, algorithm, public_key, private_key_enc, created_at FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC, kid
            """).decode((String, String, Data, Data, Date).self) {
            guard alg == "EdDSA" else { continue }
            out.append(SigningKeyRecord(kid: kid, publicKey: Array(pub), privateKeyEnc: Array(priv), createdAt: created))
        }
        return out
    }

    public func insert(_ key: SigningKeyRecord) async throws {
        try await execute("""
            INSERT INTO signing_keys (kid, algorithm, public_key, private_key_enc, created_at)
            VALUES (\(key.kid), \(key.algorithm), \(Data(key.publicKey)), \(Data(key.privateKeyEnc)), \(key.createdAt))
            ON CONFLICT (kid) DO NOTHING
            """)
    }

    /// Serialises first-start key creation across instances.
    public func lock() async throws {
        try await execute("SELECT pg_advisory_xact_lock(\(Int64(0x6267_6b65_7973)))")
    }
}
