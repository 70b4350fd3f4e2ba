import Foundation

/// How the broker's connection to a target PostgreSQL is protected.
public enum PostgresTLSMode: String, Codable, Sendable, CaseIterable {
    /// Plain TCP: only sensible on loopback.
    case disable
    /// TLS without checking the server's certificate.
    case require
    /// TLS, the certificate checked against the system trust store and the host name.
    case verifyFull = "verify-full"
}

/// How the engineer reaches the target with the session's role.
public enum PostgresAccessMode: String, Codable, Sendable, CaseIterable {
    /// The role's credentials are shown once to the engineer, who connects straight to the target.
    case direct
    /// Only through the broker's PostgreSQL proxy, which records every statement before it reaches the target.
    case recorded
}

/// Where and how a `postgres` target's temporary roles are made. The managing role's password is not
/// here: it is stored sealed apart from the settings and never leaves the broker.
public struct PostgresTarget: Codable, Equatable, Sendable {
    public var host: String
    public var port: Int
    public var database: String
    public var tls: PostgresTLSMode
    /// The broker's role on the target: CREATEROLE, and the right to grant `grantRole`.
    public var managingRole: String
    /// The role each session's login role is made a member of, e.g. `payments_oncall_rw`.
    public var grantRole: String
    public var connectionLimit: Int
    /// Set on the session's role when given.
    public var statementTimeout: TimeInterval?
    public var access: PostgresAccessMode
    /// `recorded`: keep Bind parameter values out of the record (their size only). Absent in targets saved
    /// before it existed, which record values.
    public var redactParameters: Bool?

    public init(host: String, port: Int = 5432, database: String, tls: PostgresTLSMode? = nil, managingRole: String, grantRole: String,
                connectionLimit: Int = 5, statementTimeout: TimeInterval? = nil, access: PostgresAccessMode = .direct,
                redactParameters: Bool = false) {
        self.host = host
        self.port = port
        self.database = database
        self.tls = tls ?? Self.defaultTLS(host: host)
        self.managingRole = managingRole
        self.grantRole = grantRole
        self.connectionLimit = connectionLimit
        self.statementTimeout = statementTimeout
        self.access = access
        self.redactParameters = redactParameters ? true : nil
    }

    /// verify-full everywhere but loopback, where there is no network to protect.
    public static func defaultTLS(host: String) -> PostgresTLSMode {
        LoopbackAddress.isLoopback(host) ? .disable : .verifyFull
    }

    /// The login role of one session: its id (which starts with `bg_`), lower-cased, since role names are
    /// folded when unquoted and clients that do not quote must still find it.
    public static func roleName(sessionId: String) -> String {
        let id = sessionId.lowercased()
        return id.hasPrefix("bg_") ? id : "bg_" + id
    }

    /// Whether a role name is one this broker makes (used before anything is dropped).
    public static func isSessionRole(_ name: String) -> Bool {
        name.hasPrefix("bg_") && name.count > 3 && name.dropFirst(3).allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_" || $0 == "-") }
    }

    /// The `SecretBox` context a recorded session's role password is sealed under: bound to the session,
    /// so a ciphertext moved to another session's row does not open.
    public static func rolePasswordContext(sessionId: String) -> String { "session-role-password:\(sessionId)" }

    /// The `SecretBox` context the managing role's password of target `name` is sealed under.
    public static func passwordContext(_ name: String) -> String { "target-managing-password:\(name)" }

    /// What the role's comment says: the session it belongs to, so a leftover role can be traced and reconciled.
    public static func roleComment(sessionId: String) -> String { "breakglass session \(sessionId)" }

    public static func sessionId(fromComment comment: String) -> String? {
        let prefix = "breakglass session "
        guard comment.hasPrefix(prefix) else { return nil }
        let id = String(comment.dropFirst(prefix.count))
        return id.isEmpty || id.contains(where: \.isWhitespace) ? nil : id
    }

    public func validated() throws -> PostgresTarget {
        guard !host.isEmpty, host.count <= 253, !host.contains(where: { $0.isWhitespace || $0 == "/" }) else {
            throw BreakglassError.invalid("pg_host", "--pg-host must be a host name or address without spaces")
        }
        guard (1...65535).contains(port) else { throw BreakglassError.invalid("pg_port", "--pg-port must be between 1 and 65535") }
        if tls == .verifyFull, Self.isIPAddress(host) {
            // The certificate is checked against a host name (and TLS sends it as SNI, which an address cannot be).
            throw BreakglassError.invalid("pg_tls", "--pg-tls verify-full needs a host name in --pg-host, not the address \(host); give the name on the server's certificate")
        }
        for (field, value) in [("pg_database", database), ("managing_role", managingRole), ("grant_role", grantRole)] {
            guard Self.isIdentifier(value) else {
                throw BreakglassError.invalid(field, "--\(field.replacingOccurrences(of: "_", with: "-")) must be a PostgreSQL name of 1-63 printable characters")
            }
        }
        guard !Self.isSessionRole(grantRole) else {
            throw BreakglassError.invalid("grant_role", "--grant-role must not be a session role (bg_…)")
        }
        guard (1...100).contains(connectionLimit) else {
            throw BreakglassError.invalid("connection_limit", "--connection-limit must be between 1 and 100")
        }
        if let statementTimeout, !(1...(24 * 3600)).contains(statementTimeout) {
            throw BreakglassError.invalid("statement_timeout", "--statement-timeout must be between 1s and 24h")
        }
        return self
    }

    static func isIPAddress(_ host: String) -> Bool {
        let v4 = host.split(separator: ".", omittingEmptySubsequences: false)
        if v4.count == 4, v4.allSatisfy({ UInt8($0) != nil }) { return true }
        return host.contains(":")
    }

    static func isIdentifier(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 63 && name.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7f }
    }
}
