import ArgumentParser
import BreakglassCore
import BreakglassServer
import BreakglassStore
import Foundation

/// Server-side administration for the host's operator: bootstraps the first admin without a
/// chicken-and-egg, and recovers locked-out or lost accounts.
struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bootstrap and recover accounts directly on the server host.",
        subcommands: [Create.self, Enroll.self, Unlock.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user (by default an admin) and print a one-time enrolment code.")

        @Argument(help: "User name.") var name: String
        @Option(name: .customLong("role"), help: "Role to grant (engineer, compliance, admin); repeatable.") var roles: [String] = ["admin"]

        func run() async throws {
            try await reportingErrors {
                let roles = try Role.parseList(roles)
                let name = try Validation.userName(name)
                try await Runtime(logLevel: .warning).withBroker { broker, _ in
                    printGrant(try await broker.createUser(name: name, roles: roles, actor: nil, origin: .server))
                }
            }
        }
    }

    struct Enroll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue a new one-time enrolment code for an existing user.")
        @Argument(help: "User name.") var name: String

        func run() async throws {
            try await reportingErrors {
                try await Runtime(logLevel: .warning).withBroker { broker, _ in
                    printGrant(try await broker.reissueEnrollment(name: name, actor: nil, origin: .server))
                }
            }
        }
    }

    struct Unlock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Unlock an account locked by failed TOTP codes.")
        @Argument(help: "User name.") var name: String

        func run() async throws {
            try await reportingErrors {
                try await Runtime(logLevel: .warning).withBroker { broker, _ in
                    try await broker.unlock(name: name, actor: nil, origin: .server)
                    print("unlocked \(name)")
                }
            }
        }
    }
}

func printGrant(_ grant: EnrollmentCodeGrant) {
    print("""
        user:            \(grant.user) (\(grant.roles.map(\.rawValue).joined(separator: ", ")))
        enrolment code:  \(grant.enrollmentCode)
        valid until:     \(Timestamp.format(grant.expiresAt))
        next:            breakglass enroll \(grant.enrollmentCode)
        """)
}
