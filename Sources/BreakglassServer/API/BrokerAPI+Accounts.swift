import BreakglassAPI
import BreakglassCore
import Foundation
import OpenAPIRuntime

/// Enrolment, login, users and targets.
extension BrokerAPI {
    func startEnrollment(_ input: Operations.StartEnrollment.Input) async throws -> Operations.StartEnrollment.Output {
        let body = switch input.body { case .json(let value): value }
        return .ok(.init(body: .json(Components.Schemas.EnrollmentChallenge(try await broker.startEnrollment(code: body.code, origin: origin)))))
    }

    func confirmEnrollment(_ input: Operations.ConfirmEnrollment.Input) async throws -> Operations.ConfirmEnrollment.Output {
        let body = switch input.body { case .json(let value): value }
        let result = try await broker.confirmEnrollment(code: body.code, totp: body.totp, origin: origin)
        return .created(.init(body: .json(.init(result))))
    }

    func login(_ input: Operations.Login.Input) async throws -> Operations.Login.Output {
        let body = switch input.body { case .json(let value): value }
        return .created(.init(body: .json(Components.Schemas.APITokenGrant(try await broker.login(user: body.user, totp: body.totp, origin: origin)))))
    }

    func getCurrentUser(_ input: Operations.GetCurrentUser.Input) async throws -> Operations.GetCurrentUser.Output {
        let user = try actor()
        return .ok(.init(body: .json(.init(name: user.name, roles: user.roles.map { .init($0) }, enrolled: true))))
    }

    func listUsers(_ input: Operations.ListUsers.Input) async throws -> Operations.ListUsers.Output {
        let users = try await broker.users(actor: try actor())
        return .ok(.init(body: .json(users.map { .init(name: $0.name, roles: $0.roles.map { .init($0) }, enrolled: $0.confirmed, lockedUntil: $0.lockedUntil) })))
    }

    func createUser(_ input: Operations.CreateUser.Input) async throws -> Operations.CreateUser.Output {
        let body = switch input.body { case .json(let value): value }
        let grant = try await broker.createUser(name: body.name, roles: try Role.parseList(body.roles), actor: try actor(), totp: body.totp,
                                                origin: origin)
        return .created(.init(body: .json(.init(grant))))
    }

    func issueEnrollmentCode(_ input: Operations.IssueEnrollmentCode.Input) async throws -> Operations.IssueEnrollmentCode.Output {
        let body = input.body.map { switch $0 { case .json(let value): value } }
        let grant = try await broker.reissueEnrollment(name: input.path.name, actor: try actor(), totp: body?.totp, origin: origin)
        return .created(.init(body: .json(.init(grant))))
    }

    func unlockUser(_ input: Operations.UnlockUser.Input) async throws -> Operations.UnlockUser.Output {
        let body = input.body.map { switch $0 { case .json(let value): value } }
        try await broker.unlock(name: input.path.name, actor: try actor(), totp: body?.totp, origin: origin)
        return .ok(.init(body: .json(.init(user: input.path.name, status: "unlocked"))))
    }

    func setGitHubLogin(_ input: Operations.SetGitHubLogin.Input) async throws -> Operations.SetGitHubLogin.Output {
        let body = input.body.map { switch $0 { case .json(let value): value } }
        try await broker.setGitHubLogin(user: input.path.name, login: body?.login, actor: try actor(), totp: body?.totp, origin: origin)
        return .ok(.init(body: .json(.init(user: input.path.name, githubLogin: body?.login ?? ""))))
    }

    func saveTarget(_ input: Operations.SaveTarget.Input) async throws -> Operations.SaveTarget.Output {
        let body = switch input.body { case .json(let value): value }
        let target = try Target(input.path.name, body)
        let created = try await broker.saveTarget(target, managingPassword: body.managingPassword, actor: try actor(), totp: body.totp,
                                                  origin: origin)
        let saved = Components.Schemas.Target(target)
        return created ? .created(.init(body: .json(saved))) : .ok(.init(body: .json(saved)))
    }

    func listTargets(_ input: Operations.ListTargets.Input) async throws -> Operations.ListTargets.Output {
        .ok(.init(body: .json(try await broker.targets().map { .init($0) })))
    }
}
