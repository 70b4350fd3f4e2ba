import BreakglassCore
import BreakglassCredentials
import BreakglassStore
import Foundation

public struct EnrollmentCodeGrant: Codable, Sendable {
    public var user: String
    public var roles: [Role]
    public var enrollmentCode: String
    public var expiresAt: Date
}

public struct EnrollmentChallenge: Codable, Sendable {
    public var user: String
    public var secret: String
    public var otpauthURI: String
    public var algorithm: String
    public var digits: Int
    public var period: Int
}

public struct EnrollmentResult: Codable, Sendable {
    public var user: String
    public var roles: [Role]
    public var apiToken: String
    public var apiTokenExpiresAt: Date
}

extension Broker {
    /// `actor` nil is the server-side bootstrap (`breakglassd admin create`), which has shell access to the host.
    public func createUser(name: String, roles: [Role], actor: AuthUser?, totp: String? = nil, origin: RequestOrigin) async throws -> EnrollmentCodeGrant {
        let name = try Validation.userName(name)
        guard !roles.isEmpty else { throw BreakglassError.invalid("roles", "at least one role is required (engineer, compliance, admin)") }
        try Role.checkSeparation(roles, allowAdminCompliance: settings.allowAdminCompliance)
        let code = Secrets.enrollmentCode()
        let creator = actor?.name ?? Self.hostOperator
        let validity = settings.enrollmentValidity
        return try await adminChange(actor: actor, totp: totp, action: "create users", origin: origin) { tx, now in
            let expires = Timestamp.truncated(now + validity)
            let id = try await tx.users.insert(name: name, roles: roles, createdBy: creator, now: now)
            try await tx.users.issueEnrollmentCode(userId: id, codeHash: Secrets.hash(Self.normalise(code)), now: now, expiresAt: expires)
            try await tx.audit.append(AuditEvent(
                type: .userCreated, at: now, actor: creator, actorRoles: actor?.roles ?? [.admin], origin: origin,
                details: ["user": name, "roles": roles.map(\.rawValue).joined(separator: ","), "enrollment_expires_at": Timestamp.format(expires)]))
            return (EnrollmentCodeGrant(user: name, roles: roles, enrollmentCode: code, expiresAt: expires),
                    AdminPage(type: "admin.user_created", payload: ["user": name, "roles": roles.map(\.rawValue).joined(separator: ",")]))
        }
    }

    /// A new enrolment code for an existing user (lost phone, expired code). The old authenticator keeps
    /// working until the new one is confirmed.
    public func reissueEnrollment(name: String, actor: AuthUser?, totp: String? = nil, origin: RequestOrigin) async throws -> EnrollmentCodeGrant {
        let code = Secrets.enrollmentCode()
        let issuer = actor?.name ?? Self.hostOperator
        let validity = settings.enrollmentValidity
        return try await adminChange(actor: actor, totp: totp, action: "issue enrolment codes", origin: origin) { tx, now in
            let expires = Timestamp.truncated(now + validity)
            guard let user = try await tx.users.find(named: name, forUpdate: true) else { throw BreakglassError.userUnknown(name) }
            try await tx.users.issueEnrollmentCode(userId: user.id, codeHash: Secrets.hash(Self.normalise(code)), now: now, expiresAt: expires)
            try await tx.audit.append(AuditEvent(
                type: .enrollmentIssued, at: now, actor: issuer, actorRoles: actor?.roles ?? [.admin], origin: origin,
                details: ["user": name, "enrollment_expires_at": Timestamp.format(expires)]))
            return (EnrollmentCodeGrant(user: user.name, roles: user.roles, enrollmentCode: code, expiresAt: expires),
                    AdminPage(type: "admin.enrollment_issued", payload: ["user": user.name, "enrollment_expires_at": Timestamp.format(expires)]))
        }
    }

    /// Step one: shows a fresh seed for the code's user. Calling it again replaces the unconfirmed seed.
    public func startEnrollment(code: String, origin: RequestOrigin) async throws -> EnrollmentChallenge {
        let now = clock.now()
        let seed = Secrets.randomBytes(20)
        let user = try await database.transaction { tx in
            guard let user = try await tx.users.forEnrollmentCode(Secrets.hash(Self.normalise(code)), now: now) else {
                throw Self.badEnrollmentCode
            }
            try await tx.users.setPendingSeed(userId: user.id, seedEnc: try box.seal(seed, context: UserRecord.seedContext(user.id)))
            return user
        }
        let otp = OneTimePassword(secret: seed)
        return EnrollmentChallenge(user: user.name, secret: Base32.encode(seed), otpauthURI: otp.provisioningURI(issuer: settings.issuerName, account: user.name),
                                   algorithm: otp.algorithm.rawValue, digits: otp.digits, period: otp.period)
    }

    /// Step two: a first code from the authenticator proves it holds the seed; only then is the enrolment
    /// active and an API token issued. Failures count toward the same lockout as every other proof.
    public func confirmEnrollment(code: String, totp: String, origin: RequestOrigin) async throws -> EnrollmentResult {
        let now = clock.now()
        let codeHash = Secrets.hash(Self.normalise(code))
        let token = Secrets.apiToken()
        return try await database.transactionCommittingRefusal { tx in
            guard let user = try await tx.users.forEnrollmentCode(codeHash, now: now) else { throw Self.badEnrollmentCode }
            guard user.pendingSeedEnc != nil else {
                throw BreakglassError(.conflict, "enrollment_not_started", "start the enrolment first: the secret has not been shown yet")
            }
            func denied(_ reason: String) -> AuditEvent {
                AuditEvent(type: .enrollmentFailed, outcome: .failure, at: now, actor: user.name, actorRoles: user.roles, origin: origin,
                           details: ["failure": reason])
            }
            let step: Int64
            switch try await prove(totp: totp, user: user, tx: tx, now: now, against: .pending, denial: denied) {
            case .refused(let error, let event):
                try await tx.audit.append(event)
                return .refused(error)
            case .proven(let proven):
                step = proven
            }
            try await tx.users.confirmEnrollment(userId: user.id, codeHash: codeHash, step: step, tokenHash: Secrets.hash(token), now: now,
                                                 tokenExpiresAt: now + settings.apiTokenLifetime)
            try await tx.audit.append(AuditEvent(type: .userEnrolled, at: now, actor: user.name, actorRoles: user.roles, origin: origin,
                                                 details: ["method": "totp-rfc6238-sha1-6-30",
                                                           "token_expires_at": Timestamp.format(now + settings.apiTokenLifetime)]))
            return .done(EnrollmentResult(user: user.name, roles: user.roles, apiToken: token, apiTokenExpiresAt: now + settings.apiTokenLifetime))
        }
    }

    public func unlock(name: String, actor: AuthUser?, totp: String? = nil, origin: RequestOrigin) async throws {
        try await adminChange(actor: actor, totp: totp, action: "unlock accounts", origin: origin) { tx, now in
            guard let user = try await tx.users.find(named: name, forUpdate: true) else { throw BreakglassError.userUnknown(name) }
            try await tx.users.unlock(id: user.id)
            try await tx.audit.append(AuditEvent(type: .userUnlocked, at: now, actor: actor?.name ?? Self.hostOperator,
                                                 actorRoles: actor?.roles ?? [.admin], origin: origin, details: ["user": name]))
            return ((), AdminPage(type: "admin.user_unlocked", payload: ["user": name]))
        }
    }

    public func users(actor: AuthUser) async throws -> [UserRecord] {
        try actor.require(.admin, to: "list users")
        return try await database.read { try await $0.users.all() }
    }

    /// `managingPassword`: a `postgres` target's managing role password (nil keeps the stored one). The
    /// managing role is checked against the target before anything is saved.
    public func saveTarget(_ target: Target, managingPassword: String? = nil, actor: AuthUser, totp: String?, origin: RequestOrigin) async throws -> Bool {
        let target = try target.validated()
        if managingPassword != nil && target.kind != .postgres {
            throw BreakglassError.invalid("managing_password", "a managing password only applies to --kind postgres")
        }
        return try await adminChange(actor: actor, totp: totp, action: "configure targets", origin: origin) { tx, now in
            var sealed: [UInt8]?
            if target.kind == .postgres {
                let password: String
                if let managingPassword, !managingPassword.isEmpty {
                    password = managingPassword
                    sealed = try box.seal(Array(managingPassword.utf8), context: PostgresTarget.passwordContext(target.name))
                } else if let stored = try await tx.targets.managingPasswordEnc(named: target.name) {
                    password = String(decoding: try box.open(stored, context: PostgresTarget.passwordContext(target.name)), as: UTF8.self)
                } else {
                    throw BreakglassError.invalid("managing_password",
                                                  "a new postgres target needs the managing role's password (--managing-password-file)")
                }
                try await checkCredentialTarget(CredentialTarget(target: target, managingPassword: password))
            }
            let created = try await tx.targets.save(target, managingPasswordEnc: sealed, by: actor.name, now: now)
            var details = ["created": String(created), "kind": target.kind.rawValue, "audience": target.audience,
                           "max_ttl": TTL.format(target.maxTTL), "max_total": TTL.format(target.maxTotal),
                           "retro_deadline": TTL.format(target.retroDeadline), "requesters": target.requesters.joined(separator: ",")]
            if let pg = target.postgres {
                details.merge(["pg_host": pg.host, "pg_port": String(pg.port), "pg_database": pg.database, "pg_tls": pg.tls.rawValue,
                               "managing_role": pg.managingRole, "grant_role": pg.grantRole, "connection_limit": String(pg.connectionLimit),
                               "statement_timeout": pg.statementTimeout.map(TTL.format) ?? "-", "access": pg.access.rawValue,
                               "managing_password": sealed == nil ? "kept" : "replaced"]) { $1 }
            }
            try await tx.audit.append(AuditEvent(type: .targetSaved, at: now, actor: actor.name, actorRoles: actor.roles, origin: origin,
                                                 target: target.name, details: details))
            return (created, AdminPage(type: "admin.target_saved", payload: details.merging(["target": target.name]) { $1 }))
        }
    }

    public func targets() async throws -> [Target] {
        try await database.read { try await $0.targets.list() }
    }

    static let badEnrollmentCode = BreakglassError(
        .forbidden, "enrollment_code_invalid", "the enrolment code is unknown, already used or expired; ask an admin for a new one")

    /// Codes are shown grouped with dashes; people retype them in any case and grouping.
    static func normalise(_ code: String) -> String {
        code.uppercased().filter { $0.isLetter || $0.isNumber }
    }

    public func setGitHubLogin(user name: String, login: String?, actor: AuthUser, totp: String?, origin: RequestOrigin) async throws {
        if let login {
            guard (1...39).contains(login.count), login.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
                throw BreakglassError.invalid("login", "'\(login.prefix(50))' is not a GitHub login (1-39 letters, digits or '-')")
            }
        }
        try await adminChange(actor: actor, totp: totp, action: "set users' GitHub logins", origin: origin) { tx, now in
            guard let user = try await tx.users.find(named: name, forUpdate: true) else { throw BreakglassError.userUnknown(name) }
            guard try await tx.github.setLogin(userId: user.id, login: login) else {
                throw BreakglassError(.conflict, "github_login_taken", "GitHub login '\(login ?? "")' already belongs to another user")
            }
            try await tx.audit.append(AuditEvent(type: .userUpdated, at: now, actor: actor.name, actorRoles: actor.roles, origin: origin,
                                                 details: ["user": name, "github_login": login ?? ""]))
            return ((), AdminPage(type: "admin.github_login_set", payload: ["user": name, "github_login": login ?? "(cleared)"]))
        }
    }
}
