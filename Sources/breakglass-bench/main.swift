import Foundation

/// Load and data generators for the `scripts/bench-*` measurements. Not part of the product.
///
///     breakglass-bench audit-export EVENTS PATH
///     breakglass-bench enroll-many USERS PATH        (DATABASE_URL, BREAKGLASS_MASTER_KEY_FILE)
///     breakglass-bench activate URL TARGET PATH CLIENTS
let usage = """
    usage: breakglass-bench audit-export EVENTS PATH
           breakglass-bench enroll-many USERS PATH
           breakglass-bench activate URL TARGET PATH CLIENTS
    """

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    switch (arguments.first, arguments.count) {
    case ("audit-export", 3):
        guard let count = Int(arguments[1]), count > 0 else { throw BenchFailure(usage) }
        try AuditExportWriter.write(events: count, to: arguments[2])
    case ("enroll-many", 3):
        guard let count = Int(arguments[1]), count > 0 else { throw BenchFailure(usage) }
        try await BenchEnrolment.enroll(users: count, to: arguments[2], environment: ProcessInfo.processInfo.environment)
    case ("activate", 5):
        guard let clients = Int(arguments[4]), clients > 0 else { throw BenchFailure(usage) }
        try await ActivationLoad(baseURL: arguments[1], target: arguments[2], clients: clients).run(engineersFile: arguments[3])
    default:
        throw BenchFailure(usage)
    }
} catch {
    FileHandle.standardError.write(Data("breakglass-bench: \(error)\n".utf8))
    exit(1)
}
