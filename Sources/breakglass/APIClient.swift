import AsyncHTTPClient
import BreakglassAPI
import BreakglassCore
import Foundation
import NIOCore
import OpenAPIAsyncHTTPClient
import OpenAPIRuntime

/// Talks to breakglassd through the client generated from the API contract (`BreakglassAPI/openapi.json`):
/// requests and answers are the contract's types. Every failure becomes a `CLIError` with the server's message.
struct APIClient {
    let baseURL: String
    let token: String?
    let api: Client

    init(options: GlobalOptions, requireToken: Bool = true) throws {
        let env = ProcessInfo.processInfo.environment
        let saved = SavedCredentials.load()
        let url = options.url ?? env["BREAKGLASS_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? saved?.url ?? "http://127.0.0.1:8420"
        guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
            throw CLIError(kind: .usage, code: "bad_url", message: "'\(url)' is not an http(s) URL for the broker")
        }
        let host = parsed.host ?? ""
        if parsed.scheme == "http" && !LoopbackAddress.isLoopback(host) && !options.insecure {
            throw CLIError(kind: .usage, code: "insecure_url",
                           message: "refusing to send a token or TOTP code over plain http to \(host); use https, or pass --insecure if you really must")
        }
        baseURL = url.hasSuffix("/") ? String(url.dropLast()) : url
        token = env["BREAKGLASS_TOKEN"].flatMap { $0.isEmpty ? nil : $0 } ?? saved?.token
        if requireToken && token == nil {
            throw CLIError(kind: .refused, code: "unauthenticated",
                           message: "no API token: run `breakglass enroll CODE` first or set BREAKGLASS_TOKEN")
        }
        guard let server = URL(string: baseURL) else {
            throw CLIError(kind: .usage, code: "bad_url", message: "'\(url)' is not an http(s) URL for the broker")
        }
        api = Client(serverURL: server,
                     configuration: Configuration(dateTranscoder: BrokerTimestamps(), jsonEncodingOptions: [.sortedKeys]),
                     transport: AsyncHTTPClientTransport(configuration: .init(client: Self.http, timeout: .seconds(30))),
                     middlewares: [BrokerExchange(baseURL: baseURL, token: token)])
    }

    /// One client for the process. Connection failures are reported at once instead of being retried
    /// until the request deadline: during an incident "broker down" must be said in seconds.
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(30))
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    /// Runs one operation of the generated client, and picks the answer out of its output (`.ok.body.json`), and
    /// returns it with the bytes the broker sent: `--json` prints those, evidence packs are written and checked as
    /// they came. An answer the contract does not describe, or one that does not match it, is an error that says so.
    func call<Value>(_ operation: (Client) async throws -> Value) async throws -> (Value, Data) {
        switch try await answer(operation) {
        case .understood(let value, let raw): return (value, raw)
        case .misread(let misread): throw misread.error
        }
    }

    /// `call`, but a success this CLI cannot read is handed back rather than thrown: a grant from a newer broker
    /// stands for an active, paged session whose credential must not be lost (`SalvagedGrant`).
    func answer<Value>(_ operation: (Client) async throws -> Value) async throws -> Answer<Value> {
        let reply = BrokerReply()
        do {
            let value = try await BrokerReply.$current.withValue(reply) { try await operation(api) }
            return .understood(value, reply.body)
        } catch {
            // The generated client wraps what a middleware threw; the exchange's own errors come out as they went in.
            if let failure = (error as? CLIError) ?? ((error as? ClientError)?.underlyingError as? CLIError) { throw failure }
            return .misread(MisreadAnswer(status: reply.status, path: reply.path, operationID: reply.operationID, body: reply.body,
                                          mismatch: Self.mismatch(error)))
        }
    }

    /// Where an answer departs from the contract, when the decoder says: a field's path, never its value.
    static func mismatch(_ error: any Error) -> String {
        guard case let decoding as DecodingError = (error as? ClientError)?.underlyingError ?? error else { return "" }
        let (context, missing): (DecodingError.Context?, String?) = switch decoding {
        case .keyNotFound(let key, let context): (context, key.stringValue)
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context): (context, nil)
        @unknown default: (nil, nil)
        }
        guard let context else { return "" }
        let steps = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" } + [missing.map { ".\($0)" } ?? ""]
        let path = String(steps.joined().drop { $0 == "." })
        return missing != nil ? ": '\(path)' is missing" : ": '\(path)' is not what the contract says"
    }

    /// For actions that are an admin change only sometimes (someone else's token or retro PR): sends without
    /// a code and, if the broker asks for one, asks the user and sends again.
    func callSteppingUp<Value>(totp: String?, _ operation: (Client, _ totp: String?) async throws -> Value) async throws -> (Value, Data) {
        do {
            return try await call { try await operation($0, totp) }
        } catch let error as CLIError where error.code == "totp_required" && totp == nil {
            let code = try Prompt.totp(nil)
            return try await call { try await operation($0, code) }
        }
    }
}

/// An operation's answer: read as the contract says, or a success whose bytes did not match it.
enum Answer<Value> {
    case understood(Value, Data)
    case misread(MisreadAnswer)
}

/// A success the generated client could not read: where the answer departs from the contract (a field's path,
/// never its value) and the bytes, for a command that can still use part of them.
struct MisreadAnswer {
    let status: Int
    let path: String
    let operationID: String
    let body: Data
    let mismatch: String

    var error: CLIError {
        CLIError(kind: .unexpected, code: "bad_response", message: "the broker's answer to \(path) (HTTP \(status)) was not understood\(mismatch)")
    }

    /// The successes the contract declares for the operation; an answer with any other status, even a 2xx, was not one of them.
    var documentedSuccesses: [Int] {
        OpenAPIDocument.operations.first { $0.operationId == operationID }?.successStatuses ?? []
    }

    var undocumentedStatus: CLIError {
        let documented = documentedSuccesses.map(String.init).joined(separator: " or ")
        return CLIError(kind: .unexpected, code: "undocumented_status",
                        message: "the broker answered \(path) with HTTP \(status), which the contract does not document for it"
                            + (documented.isEmpty ? "" : " (a success is HTTP \(documented))") + "; the answer was not used")
    }
}

/// Thrown from inside `APIClient.call` when an operation's output is a documented case the command cannot use.
struct UnexpectedAnswer: Error {}

/// Writes a response as the user asked: raw JSON or the human lines.
func output(json: Bool, raw: Data, human: () -> String) {
    if json {
        FileHandle.standardOutput.write(raw + Data("\n".utf8))
    } else {
        print(human())
    }
}

/// The body of a command that performs one action and reports it done.
func runAction<Value>(_ options: GlobalOptions, done: String, _ operation: (Client) async throws -> Value) async throws {
    try await runReportingErrors(json: options.json) {
        let (_, raw) = try await APIClient(options: options).call(operation)
        output(json: options.json, raw: raw) { done }
    }
}
