import Foundation

/// Load and data generators for the `scripts/bench-*` measurements. Not part of the product.
///
///     breakglass-bench audit-export EVENTS PATH
///     breakglass-bench enroll-many USERS PATH                      (DATABASE_URL, BREAKGLASS_MASTER_KEY_FILE)
///     breakglass-bench activate URL TARGET PATH CLIENTS [ROUNDS]
///     breakglass-bench read URL TOKEN COUNT
///     breakglass-bench seed-history TARGET SESSIONS EVENTS QUEUE    (DATABASE_URL)
///     breakglass-bench escalation HISTORY DUE                      (DATABASE_URL, BREAKGLASS_MASTER_KEY_FILE)
///     breakglass-bench floor PORT ENGINEERS                        (PGHOST, PGPORT, PGUSER, PGPASSWORD; database `shape`)
let usage = """
    usage: breakglass-bench audit-export EVENTS PATH
           breakglass-bench enroll-many USERS PATH
           breakglass-bench activate URL TARGET PATH CLIENTS [ROUNDS]
           breakglass-bench read URL TOKEN COUNT
           breakglass-bench seed-history TARGET SESSIONS EVENTS QUEUE
           breakglass-bench escalation HISTORY DUE
           breakglass-bench floor PORT ENGINEERS
    """

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A count argument: a whole number of at least `minimum`.
func count(_ text: String, atLeast minimum: Int = 1) throws -> Int {
    guard let value = Int(text), value >= minimum else { throw BenchFailure(usage) }
    return value
}

let arguments = Array(CommandLine.arguments.dropFirst())
let environment = ProcessInfo.processInfo.environment
do {
    switch (arguments.first, arguments.count) {
    case ("audit-export", 3):
        try AuditExportWriter.write(events: try count(arguments[1]), to: arguments[2])
    case ("enroll-many", 3):
        try await BenchEnrolment.enroll(users: try count(arguments[1]), to: arguments[2], environment: environment)
    case ("activate", 5), ("activate", 6):
        try await ActivationLoad(baseURL: arguments[1], target: arguments[2], clients: try count(arguments[4]),
                                 rounds: arguments.count == 6 ? try count(arguments[5]) : 1).run(engineersFile: arguments[3])
    case ("read", 4):
        try await ReadLoad(url: arguments[1], token: arguments[2], count: try count(arguments[3])).run()
    case ("seed-history", 5):
        try await HistorySeeder.seed(.init(target: arguments[1], sessions: try count(arguments[2]), events: try count(arguments[3]),
                                           queue: try count(arguments[4], atLeast: 0)), environment: environment)
    case ("escalation", 3):
        try await EscalationScale(history: try count(arguments[1]), due: try count(arguments[2])).run(environment: environment)
    case ("floor", 3):
        try await FloorServer(port: try count(arguments[1]), engineers: try count(arguments[2]), environment: environment).run()
    default:
        throw BenchFailure(usage)
    }
} catch {
    FileHandle.standardError.write(Data("breakglass-bench: \(error)\n".utf8))
    exit(1)
}
