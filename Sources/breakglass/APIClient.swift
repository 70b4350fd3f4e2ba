import AsyncHTTPClient
import BreakglassCore
import Foundation
import NIOCore
import NIOHTTP1

/// Talks to breakglassd over its JSON API. Every failure becomes a `CLIError` with the server's message.
struct APIClient {
    let baseURL: String
    let token: String?

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
    }

    /// One client for the process. Connection failures are reported at once instead of being retried
    /// until the request deadline: during an incident "broker down" must be said in seconds.
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(30))
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = Timestamp.decodingStrategy
        return decoder
    }()

    /// Sends a request and returns the raw body of a 2xx response.
    func send(_ method: HTTPMethod, _ path: String, body: [String: Any]? = nil) async throws -> Data {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "User-Agent", value: "breakglass-cli/1")
        request.headers.add(name: "Accept", value: "application/json")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        }
        let response: HTTPClientResponse
        let data: Data
        do {
            response = try await Self.http.execute(request, timeout: .seconds(30))
            data = Data((try await response.body.collect(upTo: 64 * 1024 * 1024)).readableBytesView)
        } catch {
            throw CLIError(kind: .unavailable, code: "unreachable", message: "cannot reach the broker at \(baseURL): \(Self.describe(error))")
        }
        guard (200..<300).contains(response.status.code) else {
            struct ErrorBody: Decodable { var error: [String: String] }
            let parsed = try? JSONDecoder().decode(ErrorBody.self, from: data)
            throw CLIError.fromServer(status: Int(response.status.code), code: parsed?.error["code"] ?? "http_\(response.status.code)",
                                      message: parsed?.error["message"] ?? "the broker answered \(response.status.code)")
        }
        return data
    }

    /// For actions that are an admin change only sometimes (someone else's token or retro PR): sends without
    /// a code and, if the broker asks for one, asks the user and sends again.
    func sendSteppingUp(_ method: HTTPMethod, _ path: String, body: [String: Any], totp: String?) async throws -> Data {
        var body = body
        if let totp { body["totp"] = totp }
        do {
            return try await send(method, path, body: body)
        } catch let error as CLIError where error.code == "totp_required" && totp == nil {
            body["totp"] = try Prompt.totp(nil)
            return try await send(method, path, body: body)
        }
    }

    func call<T: Decodable>(_ method: HTTPMethod, _ path: String, body: [String: Any]? = nil, as type: T.Type) async throws -> (T, Data) {
        let data = try await send(method, path, body: body)
        return (try Self.decode(T.self, data, path: path), data)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ data: Data, path: String) throws -> T {
        do {
            return try decoder.decode(T.self, from: data)
        } catch {
            throw CLIError(kind: .unexpected, code: "bad_response", message: "the broker's answer to \(path) was not understood")
        }
    }

    static func describe(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("connectTimeout") { return "connection timed out" }
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused (is breakglassd running?)" }
        return text.count > 160 ? String(text.prefix(160)) + "…" : text
    }

    static func path(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? segment
    }
}

/// Writes a response as the user asked: raw JSON or the human lines.
func output(json: Bool, raw: Data, human: () -> String) {
    if json {
        FileHandle.standardOutput.write(raw + Data("\n".utf8))
    } else {
        print(human())
    }
}

/// The body of a command that POSTs to one path and reports it done.
func runAction(_ options: GlobalOptions, _ path: String, body: [String: Any]? = nil, done: String) async throws {
    try await runReportingErrors(json: options.json) {
        let raw = try await APIClient(options: options).send(.POST, path, body: body)
        output(json: options.json, raw: raw) { done }
    }
}
