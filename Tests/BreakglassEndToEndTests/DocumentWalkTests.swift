import BreakglassCore
import BreakglassServer
import BreakglassStore
import BreakglassTestSupport
import Foundation
import NIOHTTP1
import PostgresNIO
import XCTest

/// Every `breakglass …` / `breakglassd …` command the README and the runbooks show is run, in the order
/// shown, against a real broker, and must succeed (or fail, where the document shows it failing with `✘`).
/// The documents are read as they are now: a new command is run the day it is written; a new placeholder the
/// walk does not know fails the test with its name, so the walk is taught before the document lands.
final class DocumentWalkTests: XCTestCase {
    func testTheREADMEsCommandsWork() async throws {
        try await walk(DocumentCommands.documents[0]) { world in
            // Exit codes are not enough: what the README set up is still what it says after all its commands
            // (e.g. the drill section's set-target did not reset the audience step 3 gave).
            let targets = try await world.server.broker.targets()
            let target = try XCTUnwrap(targets.first { $0.name == "payments-db" })
            XCTAssertEqual(target.audience, "payments-api")
            XCTAssertEqual(target.maxTotal, 2 * 3600)
            XCTAssertNotNil(target.drillDeadline)
        }
    }

    func testEveryRunbooksCommandsWork() async throws {
        let runbooks = DocumentCommands.documents.dropFirst()
        XCTAssertGreaterThanOrEqual(runbooks.count, 5)
        for runbook in runbooks { try await walk(runbook) }
    }

    func walk(_ document: URL, after check: (DocumentWorld) async throws -> Void = { _ in }) async throws {
        let name = document.lastPathComponent
        let commands = DocumentCommands.extract(try String(contentsOf: document, encoding: .utf8), file: name)
        XCTAssertFalse(commands.isEmpty, "\(name) shows no command")
        let text = try String(contentsOf: document, encoding: .utf8)
        let world = try await DocumentWorld.start(document: text, bootstrapsItsOwnAdmin: text.contains("breakglassd admin create alice"))
        do {
            for command in commands {
                try await world.run(command)
            }
            try await check(world)
        } catch {
            await world.stop()
            throw error
        }
        await world.stop()
        print("WALK \(name): \(commands.count) commands")
    }
}

struct WalkFailure: Error, CustomStringConvertible {
    let description: String
}

/// A broker with loopback Slack, PagerDuty and webhook receivers, and the people the documents speak of:
/// alice (admin and engineer), rita (compliance), carol (an engineer: OWNER, YOU).
final class DocumentWorld: @unchecked Sendable {
    // @unchecked: used from one test task at a time.
    let database: TestDatabase
    let server: TestServer
    let clock: ManualClock
    let receiver: LoopbackReceiver
    let scratch: URL
    let keyFile: String
    let document: String
    var secrets: [String: String] = [:]
    var pendingCodes: [String: String] = [:]
    var activeSessions: [String: String] = [:]
    var currentSession: String?
    /// In a drill runbook every SESSION is the drill the document started.
    var drillSession: String?
    var lastEvidence: String?
    var postgresTarget: PostgresWalkTarget?
    var newcomers = 0
    var scriptedEnrolment: (code: String, file: String)?
    /// After `breakglass login X` in a block, the following commands of that block run as X (the CLI saved
    /// X's token), as on the owner's own machine.
    var loggedIn: (block: String, user: String)?

    static let githubSecret = "a GitHub secret for the document walk"
    static let reason = "INC-4521 lock pile-up, kill blockers"

    init(database: TestDatabase, server: TestServer, clock: ManualClock, receiver: LoopbackReceiver, scratch: URL, keyFile: String, document: String) {
        self.database = database
        self.server = server
        self.clock = clock
        self.receiver = receiver
        self.scratch = scratch
        self.keyFile = keyFile
        self.document = document
    }

    static func start(document: String, bootstrapsItsOwnAdmin: Bool) async throws -> DocumentWorld {
        let database = try await TestDatabase.create()
        let clock = ManualClock.nearRealTime()
        let server = TestServer(database: database, clock: clock)
        try await server.start(settings: .init(githubWebhookSecret: githubSecret, githubLinkPolicy: .init(repositories: ["acme/payments"])), proxy: true)
        let receiver = LoopbackReceiver()
        try await receiver.start()
        await receiver.setDefault("/pd/v2/enqueue", .init(status: 202, body: #"{"status":"success"}"#))
        await receiver.setDefault("/dead", .init(status: 400, body: "invalid_payload"))
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bg-walk-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let world = DocumentWorld(database: database, server: server, clock: clock, receiver: receiver, scratch: scratch,
                                  keyFile: try server.writeMasterKeyFile(in: scratch), document: document)
        if !bootstrapsItsOwnAdmin {
            try await world.ensure("alice")
            try await world.ensureTarget()
        }
        return world
    }

    func stop() async {
        await receiver.stop()
        await server.stop()
        await postgresTarget?.drop()
        await database.drop()
        try? FileManager.default.removeItem(at: scratch)
    }

    // MARK: people

    static let roles: [String: [Role]] = ["alice": [.admin, .engineer], "rita": [.compliance], "carol": [.engineer], "dave": [.engineer]]

    func credentials(_ user: String) -> String { scratch.appendingPathComponent("\(user)-credentials.json").path }

    func token(_ user: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: credentials(user)))
        return try XCTUnwrap((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["token"] as? String)
    }

    func code(_ user: String) async throws -> String {
        guard let secret = secrets[user] else { throw WalkFailure(description: "\(user) has no authenticator in this walk") }
        return try await Tools.oathtool(secret: secret, at: clock.now())
    }

    var http: HTTPTestClient { HTTPTestClient(baseURL: server.baseURL) }

    /// A user enrolled over HTTP, with their credentials file where the CLI looks.
    func ensure(_ user: String) async throws {
        guard secrets[user] == nil else { return }
        let grant = try await server.broker.createUser(name: user, roles: Self.roles[user] ?? [.engineer], actor: nil, origin: .server)
        try await confirm(user, code: grant.enrollmentCode)
    }

    func confirm(_ user: String, code enrolment: String) async throws {
        let start = try await http.send(.POST, "/v1/enrollment/start", json: ["code": enrolment])
        guard let secret = start.json["secret"] as? String else { throw WalkFailure(description: "enrolment of \(user): \(start.text)") }
        secrets[user] = secret
        let confirm = try await http.send(.POST, "/v1/enrollment/confirm", json: ["code": enrolment, "totp": try code(user)])
        guard let token = confirm.json["api_token"] as? String else { throw WalkFailure(description: "enrolment of \(user): \(confirm.text)") }
        try JSONSerialization.data(withJSONObject: ["url": server.baseURL, "user": user, "token": token]).write(to: URL(fileURLWithPath: credentials(user)))
        clock.advance(by: 30)
    }

    func adminSend(_ method: HTTPMethod, _ path: String, json: [String: Any] = [:]) async throws -> HTTPTestClient.Reply {
        var body = json
        body["totp"] = try await code("alice")
        defer { clock.advance(by: 30) }
        return try await http.send(method, path, token: try token("alice"), json: body)
    }

    func ensureTarget() async throws {
        let reply = try await adminSend(.PUT, "/v1/targets/payments-db", json: ["max_ttl": "1h", "max_total": "2h", "audience": "payments-api"])
        guard [200, 201].contains(reply.status) else { throw WalkFailure(description: "target: \(reply.text)") }
    }

    // MARK: situations the documents presuppose

    /// A new active session of `user`.
    func newSession(of user: String) async throws -> String {
        try await ensure(user)
        let reply = try await http.send(.POST, "/v1/sessions", token: try token(user), json: [
            "target": "payments-db", "reason": Self.reason, "incident": "INC-4521", "ttl": "30m", "totp": try code(user),
        ])
        clock.advance(by: 30)
        guard let id = (reply.json["session"] as? [String: Any])?["id"] as? String else { throw WalkFailure(description: "session: \(reply.text)") }
        activeSessions[user] = id
        currentSession = id
        return id
    }

    func linkedSession() async throws -> String {
        let id = try await newSession(of: "alice")
        let link = try await http.send(.POST, "/v1/retro/\(id)/link", token: try token("alice"), json: ["url": "https://github.com/acme/payments/pull/\(Int.random(in: 1000...9999))"])
        guard link.status == 200 else { throw WalkFailure(description: "link: \(link.text)") }
        return id
    }

    /// A session with a PR that named it but could not link itself (opened by someone else).
    func candidate() async throws -> (session: String, url: String) {
        let id = try await newSession(of: "alice")
        let number = Int.random(in: 1000...9999)
        let url = "https://github.com/acme/payments/pull/\(number)"
        let payload: [String: Any] = [
            "action": "opened", "repository": ["full_name": "acme/payments"], "sender": ["login": "mallory"],
            "pull_request": ["html_url": url, "number": number, "title": "Retro \(id)", "body": "", "state": "open",
                             "head": ["ref": "x", "repo": ["full_name": "acme/payments"]], "base": ["ref": "main", "repo": ["full_name": "acme/payments"]],
                             "user": ["login": "mallory"], "merged": false],
        ]
        let body = try JSONSerialization.data(withJSONObject: payload)
        let reply = try await http.send(.POST, "/v1/hooks/github", rawBody: body, headers: [
            "Content-Type": "application/json", "X-GitHub-Event": "pull_request", "X-GitHub-Delivery": UUID().uuidString,
            "X-Hub-Signature-256": GitHubWebhook.signature(secret: Self.githubSecret, body: Array(body)),
        ])
        guard reply.status == 200 else { throw WalkFailure(description: "candidate: \(reply.text)") }
        return (id, url)
    }

    func ensureChannel(_ name: String) async throws {
        if try await server.broker.database.read({ try await $0.channels.find(named: name) }) != nil { return }
        let reply = try await adminSend(.PUT, "/v1/notify/channels/\(name)", json: ["kind": "slack", "url": receiver.url("/slack")])
        guard reply.status == 200 else { throw WalkFailure(description: "channel: \(reply.text)") }
    }

    /// A dead letter to re-drive: a test page to a channel whose endpoint refuses it for good.
    func deadLetter() async throws -> String {
        func dead() async throws -> String? {
            try await server.broker.database.read { try await $0.deliveries.log(sessionId: nil, deadOnly: true, limit: 1) }.first?.deliveryId.uuidString
        }
        if let id = try await dead() { return id }
        if try await server.broker.database.read({ try await $0.channels.find(named: "dead-end") }) == nil {
            let made = try await adminSend(.PUT, "/v1/notify/channels/dead-end", json: ["kind": "slack", "url": receiver.url("/dead"), "events": ["none"]])
            guard made.status == 200 else { throw WalkFailure(description: "dead-end channel: \(made.text)") }
        }
        _ = try await http.send(.POST, "/v1/notify/channels/dead-end/test", token: try token("alice"))
        for _ in 0..<200 {
            if let id = try await dead() { return id }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw WalkFailure(description: "no dead letter appeared")
    }

    func waitForTestPages(channel name: String) async throws {
        for _ in 0..<200 {
            let pending = try await server.broker.database.read { tx -> Bool in
                guard let channel = try await tx.channels.find(named: name) else { return false }
                return try await tx.outbox.testPagePending(channelId: channel.id)
            }
            if !pending { return }
            clock.advance(by: 1)
            try await Task.sleep(for: .milliseconds(50))
        }
        throw WalkFailure(description: "the test page for \(name) never went out")
    }

    /// A live API token of `user` that may be revoked without cutting off the walk.
    func spareToken(of user: String) async throws -> String {
        try await ensure(user)
        let login = try await http.send(.POST, "/v1/login", json: ["user": user, "totp": try code(user)])
        clock.advance(by: 30)
        guard let token = login.json["api_token"] as? String else { throw WalkFailure(description: "login: \(login.text)") }
        return Array(Secrets.hash(token).prefix(8)).hex
    }

    // MARK: running a documented command

    func run(_ command: DocumentedCommand) async throws {
        var text = command.text
        // Optional parts shown in brackets are left out.
        text = text.replacingOccurrences(of: #"\s\[[^\]]*\]"#, with: "", options: .regularExpression)
        let persona = try await fill(&text, command: command)
        try assertNoPlaceholderLeft(text, command: command)
        let expectFailure = command.comment?.hasPrefix("✘") ?? false
        if expectFailure { try await tamperAsTheDocumentShows(command) }

        // A person proving a channel waits for the previous test page to go out (one waits per channel).
        if text.hasPrefix("breakglass notify test "), let name = text.split(separator: " ").dropFirst(3).first {
            try await waitForTestPages(channel: String(name))
        }
        let result: CommandResult
        if text.hasPrefix("breakglassd serve") {
            result = try await serveBriefly(text)
        } else if text.hasPrefix("breakglass enroll ") && !text.contains("--totp") && !text.contains("--secret-out") {
            result = try await enrollInteractively(text, user: persona)
        } else {
            result = try await shell(text, persona: persona)
        }
        clock.advance(by: 30)
        if expectFailure {
            guard result.status == 1 else { throw WalkFailure(description: "\(command) should fail as the document shows; exit \(result.status)\n\(result.stdout)\(result.stderr)") }
            return
        }
        guard result.status == 0 else {
            throw WalkFailure(description: "\(command)\n  ran: \(text)\n  exit \(result.status)\n  stdout: \(result.stdout)\n  stderr: \(result.stderr)")
        }
        if let id = result.stdout.firstMatch(of: /session (bg_[A-Z0-9]{20}) active/)?.1 {
            activeSessions[persona] = String(id)
            currentSession = String(id)
            if text.hasPrefix("breakglass drill ") { drillSession = String(id) }
        }
        if text.hasPrefix("breakglassd admin create "), let code = result.stdout.firstMatch(of: /enrolment code:\s+(\S+)/)?.1,
           let user = text.split(separator: " ").dropFirst(3).first {
            pendingCodes[String(user)] = String(code)
        }
    }

    /// Fills the placeholders of one command, preparing what it presupposes; returns who runs it.
    func fill(_ text: inout String, command: DocumentedCommand) async throws -> String {
        func replace(_ pattern: String, _ value: String) {
            text = text.replacingOccurrences(of: pattern, with: value, options: .regularExpression)
        }
        replace(#"\b(OWNER|YOU)\b"#, "carol")
        replace(#"USER LOGIN"#, "carol carol-gh")
        replace(#"\bTARGET\b"#, "payments-db")
        replace(#"--reason (TEXT|…)"#, "--reason \"laptop reported stolen\"")
        replace(#"https://hooks\.slack\.com/services/…"#, receiver.url("/slack"))
        replace(#"--endpoint …"#, "--endpoint \(receiver.url("/slack"))")
        replace(#"https://events\.pagerduty\.com"#, receiver.url("/pd"))
        replace(#"https://siem\.example/hooks"#, receiver.url("/hook"))
        replace(#"--endpoint URL"#, "--endpoint \(receiver.url("/hook"))")
        replace(#"\bKEY2\b"#, "R0123456789abcdef0123456789abcde2")
        replace(#"\bKEY\b"#, "R0123456789abcdef0123456789abcdef")
        replace(#"--secret NEW --secret OLD"#, "--secret \(StandardWebhook.generateSecret()) --secret \(StandardWebhook.generateSecret())")
        replace(#"audit-head-\d{4}-\d{2}-\d{2}\.json"#, "audit-head-$(date +%F).json")
        if text.contains("--kind postgres") {
            // The throwaway cluster stands in for the target server, with roles of this walk's own.
            let target: PostgresWalkTarget
            if let existing = postgresTarget {
                target = existing
            } else {
                target = try await PostgresWalkTarget.create(in: scratch)
                postgresTarget = target
            }
            let config = try TestDatabase.superuser()
            replace(#"--pg-host db1\.internal"#, "--pg-host \(config.host) --pg-port \(config.port)")
            replace(#"--pg-database payments"#, "--pg-database \(target.database)")
            replace(#"\bbreakglass_manager\b"#, target.manager)
            replace(#"\bpayments_oncall_rw\b"#, target.grantRole)
        }

        let words = text.split(separator: " ").map(String.init)
        let persona: String
        if text.hasPrefix("breakglass compliance") {
            persona = "rita"
        } else if words.count > 2, words[0] == "breakglass", words[1] == "login" {
            persona = words[2]
            if let block = command.block { loggedIn = (block, persona) }
        } else if let loggedIn, loggedIn.block == command.block {
            persona = loggedIn.user
        } else if text.hasPrefix("breakglass enroll") {
            persona = text.contains("ABCD1234") ? "alice" : "dave\(newcomers + (text.contains("--confirm") ? 0 : 1))"
        } else {
            persona = "alice"
        }
        if !text.hasPrefix("breakglassd"), !text.hasPrefix("breakglass enroll") { try await ensure(persona) }

        if text.contains("ABCD1234-...") {
            guard let code = pendingCodes["alice"] else { throw WalkFailure(description: "\(command): no enrolment code printed before") }
            replace(#"ABCD1234-\.\.\."#, code)
        }
        if text.hasPrefix("breakglass enroll CODE") {
            newcomers += 1
            let grant = try await server.broker.createUser(name: "dave\(newcomers)", roles: [.engineer], actor: nil, origin: .server)
            replace(#"\bCODE\b"#, grant.enrollmentCode)
            if text.contains("--secret-out FILE") {
                let file = "enrolment-\(newcomers).json"
                replace(#"--secret-out FILE"#, "--secret-out \(file)")
                scriptedEnrolment = (grant.enrollmentCode, file)
            }
        }
        if text.hasPrefix("breakglass enroll --confirm CODE") {
            guard let (code, file) = scriptedEnrolment else { throw WalkFailure(description: "\(command): no step one (--secret-out) before") }
            let shown = try JSONSerialization.jsonObject(with: Data(contentsOf: scratch.appendingPathComponent(file))) as? [String: Any]
            let secret = try XCTUnwrap(shown?["secret"] as? String)
            replace(#"\bCODE\b"#, code)
            replace(#"\bFIRST_CODE\b"#, try await Tools.oathtool(secret: secret, at: clock.now()))
        }
        if text.contains("NAME") {
            try await ensureChannel("compliance-slack")
            replace(#"\bNAME\b"#, text.contains("set-channel") ? "ops-hook" : "compliance-slack")
        }
        if text.contains("DELIVERY_ID") { replace(#"\bDELIVERY_ID\b"#, try await deadLetter()) }
        if text.contains("TOKEN_ID") || text.contains("3f9c1a2b4d5e6f70") {
            let owner = document.contains("OWNER") ? "carol" : persona
            replace(#"\b(TOKEN_ID|3f9c1a2b4d5e6f70)\b"#, try await spareToken(of: owner))
        }
        if text.contains("breakglass login carol") || text.contains("unlock carol") || text.contains("--user carol") || text.contains("carol carol-gh") {
            try await ensure("carol")
        }
        if text.contains("SESSION") || text.contains("bg_...") || text.contains("bg_7Q2K…") {
            let session: String
            switch drillSession != nil ? "drill" : words.prefix(3).joined(separator: " ") {
            case "drill":
                session = drillSession!
            case "breakglass status bg_...", "breakglass extend bg_...", "breakglass end bg_...", "breakglass extend SESSION", "breakglass end SESSION":
                session = try await activeSessions[persona].asyncOr { try await self.newSession(of: persona) }
            case "breakglass compliance approve", "breakglass compliance reject":
                session = try await linkedSession()
            case "breakglass compliance waive", "breakglass retro link":
                session = try await newSession(of: "alice")
            case "breakglass revoke SESSION":
                session = try await newSession(of: "carol")
            case "breakglass compliance accept-candidate":
                let (id, url) = try await candidate()
                replace(#"\bPR_URL\b"#, url)
                session = id
            default:
                session = try await currentSession.asyncOr { try await self.newSession(of: "alice") }
            }
            replace(#"\bSESSION\b|bg_\.\.\.|bg_7Q2K…"#, session)
        }
        replace(#"\bPR_URL\b"#, "https://github.com/acme/payments/pull/\(Int.random(in: 1000...9999))")
        if text.contains(" FILE") {
            if text.contains("verify-evidence") {
                guard let evidence = lastEvidence else { throw WalkFailure(description: "\(command): no evidence pack written before") }
                replace(#"\bFILE\b"#, evidence)
            }
        }
        if text.contains("compliance evidence"), let file = text.firstMatch(of: /-o (\S+)/)?.1 {
            lastEvidence = String(file)
        } else if text.contains("compliance evidence"), let id = text.split(separator: " ").dropFirst(3).first {
            lastEvidence = "evidence-\(id).json"
        }
        return persona
    }

    /// What is left in capitals after filling is a placeholder the walk has not been taught.
    func assertNoPlaceholderLeft(_ text: String, command: DocumentedCommand) throws {
        let known: Set<String> = ["INC", "BREAKGLASS", "TOTP", "JSON"]
        // Words of capitals (and _) standing alone: not inside names like INC-4521 or BREAKGLASS_URL=….
        for word in text.split(whereSeparator: { " '\"=/:".contains($0) }) where word.count >= 3
            && word.allSatisfy({ $0.isUppercase || $0 == "_" }) && !known.contains(String(word)) {
            throw WalkFailure(description: "\(command): placeholder \(word) is not known to the document walk (teach DocumentWorld.fill)")
        }
        if text.contains("…") || text.contains("...") {
            throw WalkFailure(description: "\(command): an elided part (…) is left; show the whole command or teach the walk")
        }
    }

    /// `audit verify` is shown catching tampering: do what the document's block does first (as a superuser).
    func tamperAsTheDocumentShows(_ command: DocumentedCommand) async throws {
        guard let block = command.block, let sql = block.firstMatch(of: /-c "([^"]+)"/)?.1 else {
            throw WalkFailure(description: "\(command): shown failing, but its block shows no psql -c \"…\" to reproduce")
        }
        // The broker has history to tamper with (the block edits an activation).
        _ = try await newSession(of: "alice")
        // As the block does it: psql, as the schema owner, the whole -c script at once.
        let result = try await Tools.run("/usr/bin/psql", [database.owner.urlWithPassword, "-v", "ON_ERROR_STOP=1", "-c", String(sql)])
        guard result.status == 0, !result.stdout.contains("UPDATE 0") else {
            throw WalkFailure(description: "\(command): the document's tampering changed nothing: \(result.stdout)\(result.stderr)")
        }
    }

    func environment(_ persona: String) -> [String: String] {
        ["BREAKGLASS_URL": server.baseURL, "BREAKGLASS_CREDENTIALS": credentials(persona),
         "PATH": Tools.binDirectory.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
         "DATABASE_URL": database.runtime.urlWithPassword, "BREAKGLASS_MIGRATION_DATABASE_URL": database.owner.urlWithPassword,
         "BREAKGLASS_MASTER_KEY_FILE": keyFile, "BREAKGLASS_LOG_LEVEL": "error"]
    }

    /// Commands that ask for a TOTP code get one on stdin, as a person types it at the prompt; the others get
    /// nothing, so a command that the document runs without a code and that does prompt fails.
    static let takesACode = ["breakglass request", "breakglass extend", "breakglass admin", "breakglass notify set-channel",
                             "breakglass notify retry", "breakglass notify enable", "breakglass login", "breakglass drill payments-db",
                             "breakglass drill start", "breakglass retro link"]

    func shell(_ text: String, persona: String) async throws -> CommandResult {
        var takesCode = Self.takesACode.contains { text.hasPrefix($0) }
        // Revoking someone else's token is an admin change; revoking one's own is not.
        if text.hasPrefix("breakglass tokens revoke") { takesCode = persona == "alice" && document.contains("OWNER") }
        let stdin = takesCode ? ((try? await code(persona)) ?? "") : ""
        return try await Tools.run("/bin/sh", ["-c", "cd '\(scratch.path)' && \(text)"], environment: environment(persona), stdin: stdin + "\n")
    }

    func enrollInteractively(_ text: String, user: String) async throws -> CommandResult {
        let arguments = text.split(separator: " ").dropFirst().map(String.init)
        return try await Tools.interactive(Tools.binDirectory.appendingPathComponent("breakglass").path, arguments, environment: environment(user),
                                           marker: "secret:") { shown in
            let secret = String(shown.split(separator: "\n").first { $0.contains("secret:") }!.split(separator: " ").last!)
            self.secrets[user] = secret
            return try await Tools.oathtool(secret: secret, at: self.clock.now())
        }
    }

    /// A long-running `breakglassd serve`: it must come up and stop cleanly on SIGTERM.
    func serveBriefly(_ text: String) async throws -> CommandResult {
        let arguments = text.split(separator: " ").dropFirst(2).map(String.init)
        switch try await BrokerProcess.run(environment("alice"), arguments: arguments) {
        case .exited(let result):
            return CommandResult(status: result.status == 0 ? 1 : result.status, stdout: result.stdout, stderr: "exited at start: " + result.stderr)
        case .serving(let process, _):
            process.signal(SIGTERM)
            return try await process.finish()
        }
    }
}

extension Optional where Wrapped == String {
    func asyncOr(_ make: () async throws -> String) async throws -> String {
        if let self { return self }
        return try await make()
    }
}

/// A target PostgreSQL for a runbook's `--kind postgres` commands: a database, a managing role and a role to
/// grant on the throwaway cluster, named uniquely (roles are cluster-wide), and the password file the runbook
/// names, written in the walk's directory.
struct PostgresWalkTarget: Sendable {
    let suffix: String
    var database: String { "walktarget_\(suffix)" }
    var manager: String { "walkmgr_\(suffix)" }
    var grantRole: String { "walkoncall_\(suffix)" }

    static func create(in scratch: URL) async throws -> PostgresWalkTarget {
        let target = PostgresWalkTarget(suffix: Base32.encode(Secrets.randomBytes(5)).lowercased())
        let password = "walk-" + Secrets.base64url(Secrets.randomBytes(12))
        try (password + "\n").write(to: scratch.appendingPathComponent("payments-pg.password"), atomically: true, encoding: .utf8)
        try await target.sql("""
            CREATE DATABASE \(target.database);
            CREATE ROLE \(target.grantRole) NOLOGIN;
            CREATE ROLE \(target.manager) LOGIN CREATEROLE PASSWORD '\(password)';
            GRANT \(target.grantRole) TO \(target.manager) WITH ADMIN OPTION;
            GRANT SET ON PARAMETER log_statement TO \(target.manager)
            """)
        return target
    }

    func drop() async {
        // Session roles the walk's commands made and did not end.
        let sessionRoles = (try? await sessionRoles()) ?? []
        for role in sessionRoles { try? await sql("DROP ROLE IF EXISTS \"\(role)\"") }
        try? await sql("DROP DATABASE IF EXISTS \(database) WITH (FORCE)")
        try? await sql("REVOKE SET ON PARAMETER log_statement FROM \(manager); DROP OWNED BY \(manager); DROP ROLE IF EXISTS \(manager)")
        try? await sql("DROP ROLE IF EXISTS \(grantRole)")
    }

    func sessionRoles() async throws -> [String] {
        let grantRole = grantRole
        return try await Database.withDatabase(TestDatabase.superuser(), logger: TestDatabase.logger) { db -> [String] in
            try await db.read { tx -> [String] in
                var names: [String] = []
                for try await name in try await tx.connection.query("""
                    SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'bg\\_%' AND pg_has_role(rolname, \(grantRole), 'MEMBER')
                    """, logger: TestDatabase.logger).decode(String.self) { names.append(name) }
                return names
            }
        }
    }

    func sql(_ statements: String) async throws {
        try await Database.withDatabase(TestDatabase.superuser(), logger: TestDatabase.logger) { db in
            try await db.read { tx in
                for statement in statements.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespacesAndNewlines) }) where !statement.isEmpty {
                    _ = try await tx.connection.query(PostgresQuery(unsafeSQL: statement), logger: TestDatabase.logger).collect()
                }
            }
        }
    }
}
