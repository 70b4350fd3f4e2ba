import BreakglassCore
import BreakglassServer
import BreakglassStore
import BreakglassTestSupport
import Foundation
import XCTest

/// A broker with an engineer-admin (alice), a compliance reviewer (bob), a target with a 24 h retro
/// deadline, and a signed-webhook channel on loopback that receives every `retro.*` page.
class RetroTestCase: BrokerTestCase {
    static let githubSecret = "It's a Secret to Everybody"
    override var serverSettings: Broker.Settings {
        // Ladder tests jump weeks ahead; the tokens of the test's users should not expire meanwhile.
        .init(githubWebhookSecret: Self.githubSecret, apiTokenLifetime: 400 * 86400, githubLinkPolicy: .init(repositories: ["acme/payments"]))
    }

    var receiver: LoopbackReceiver!
    var alice: (secret: String, token: String)!
    var bob: (secret: String, token: String)!
    let day: TimeInterval = 24 * 3600

    override func setUp() async throws {
        try await super.setUp()
        receiver = LoopbackReceiver()
        try await receiver.start()
        alice = try await enrolledUser("alice", roles: [.admin, .engineer])
        bob = try await enrolledUser("bob", roles: [.compliance])
        try await makeTarget("payments-db", admin: alice)
        // Alice's GitHub account, as an admin records it: only then do her PRs link themselves.
        let mapped = try await adminSend(.PUT, "/v1/users/alice/github", as: alice, json: ["login": "alice"])
        XCTAssertEqual(mapped.status, 200, mapped.text)
        let hook = try await adminSend(.PUT, "/v1/notify/channels/retro-pages", as: alice, json: ["kind": "webhook", "url": receiver.url("/hook"), "events": ["retro.*"]])
        XCTAssertEqual(hook.status, 200, hook.text)
    }

    /// API tokens of users enrolled over HTTP, so the CLI can act as them.
    var tokens: [String: String] = [:]

    override func enrolledUser(_ name: String, roles: [Role]) async throws -> (secret: String, token: String) {
        let user = try await super.enrolledUser(name, roles: roles)
        tokens[name] = user.token
        return user
    }

    override func cli(_ args: [String], as user: String, stdin: String? = nil) async throws -> CommandResult {
        try await Tools.cli(args, server: server, credentials: credentialsPath(user), stdin: stdin,
                            extra: tokens[user].map { ["BREAKGLASS_TOKEN": $0] } ?? [:])
    }

    override func tearDown() async throws {
        await receiver?.stop()
        try await super.tearDown()
    }

    /// Alice breaks glass; returns the session id and the activation time.
    func activate(token: String? = nil, secret: String? = nil) async throws -> (id: String, at: Date) {
        let at = clock.now()
        let reply = try await requestSession(target: "payments-db", token: token ?? alice.token, secret: secret ?? alice.secret)
        XCTAssertEqual(reply.status, 201, reply.text)
        nextStep()
        return ((reply.json["session"] as! [String: Any])["id"] as! String, Timestamp.truncated(at))
    }

    /// Escalation pages received so far, in arrival order: (session, rung, payload).
    func rungPages() async -> [(session: String, rung: String, data: [String: Any])] {
        await receiver.received("/hook").compactMap { page in
            let data = page.json["data"] as? [String: Any] ?? [:]
            guard let rung = data["rung"] as? String, let session = data["session_id"] as? String else { return nil }
            return (session, rung, data)
        }
    }

    func rungCount(_ id: String) async throws -> Int {
        try await database.count("SELECT count(*)::bigint FROM retro_escalations WHERE session_id = '\(id)'")
    }

    /// Moves the clock to `date` and waits until the scheduler has reached `rungs` rungs of `id` and their
    /// pages (skipped rungs page nothing) have arrived.
    func jump(to date: Date, session id: String, rungs: Int, pages: Int) async throws {
        clock.set(date)
        try await waitUntil { try await self.rungCount(id) >= rungs }
        try await waitUntil { await self.rungPages().filter { $0.session == id }.count >= pages }
    }

    func auditTypes(_ id: String) async throws -> [String] {
        let rows = try await server.broker.database.read { try await $0.audit.rows(sessionId: id) }
        return rows.compactMap { AuditChain.decode(body: $0.body)?.type.rawValue }
    }

    func gitHub(_ event: String, delivery: String, payload: [String: Any], secret: String? = RetroTestCase.githubSecret,
                signature: String? = nil) async throws -> HTTPTestClient.Reply {
        let body = try JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])
        var headers = ["X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "Content-Type": "application/json",
                       "User-Agent": "GitHub-Hookshot/test"]
        if let secret { headers["X-Hub-Signature-256"] = try await signature.asyncOr { try await Self.pythonSignature(secret: secret, body: body) } }
        return try await http.send(.POST, "/v1/hooks/github", rawBody: body, headers: headers)
    }

    /// Signed the way GitHub documents it, by an implementation that is not ours (Python's hmac).
    static func pythonSignature(secret: String, body: Data) async throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("gh-\(UUID().uuidString).json")
        try body.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try await Tools.run("/usr/bin/env", [
            "python3", "-c", "import hmac, hashlib, sys; print('sha256=' + hmac.new(sys.argv[1].encode(), open(sys.argv[2], 'rb').read(), hashlib.sha256).hexdigest())",
            secret, file.path,
        ])
        guard result.status == 0 else { throw BreakglassError(.internalFailure, "python", result.stderr) }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A `pull_request` payload shaped like GitHub's (only the fields breakglass reads, plus a few others).
    func pullRequest(action: String, number: Int, title: String, branch: String, author: String = "alice",
                     merged: Bool = false, mergedBy: String? = nil, headRepository: String = "acme/payments",
                     repository: String = "acme/payments") -> [String: Any] {
        var pr: [String: Any] = [
            "html_url": "https://github.com/\(repository)/pull/\(number)", "number": number, "title": title,
            "body": "Documents the emergency change.", "state": merged ? "closed" : "open",
            "head": ["ref": branch, "sha": "abc123", "repo": ["full_name": headRepository, "fork": headRepository != repository]],
            "base": ["ref": "main", "repo": ["full_name": repository, "fork": false]], "user": ["login": author, "id": 1], "merged": merged,
        ]
        if merged {
            pr["merged_at"] = Timestamp.format(clock.now())
            pr["merge_commit_sha"] = "9f2c1e7d4b5a6c8e0f1a2b3c4d5e6f708192a3b4"
            pr["merged_by"] = ["login": mergedBy ?? "carol", "id": 3]
        }
        return ["action": action, "number": number, "pull_request": pr, "repository": ["full_name": repository],
                "sender": ["login": mergedBy ?? author, "id": 1]]
    }

    func review(number: Int, reviewer: String, state: String = "approved", id: Int64? = nil, action: String = "submitted") -> [String: Any] {
        var payload = pullRequest(action: action, number: number, title: "retro", branch: "retro")
        var review: [String: Any] = ["state": state, "user": ["login": reviewer, "id": 9], "submitted_at": Timestamp.format(clock.now())]
        if let id { review["id"] = id }
        payload["review"] = review
        payload["sender"] = ["login": reviewer, "id": 9]
        return payload
    }
}
