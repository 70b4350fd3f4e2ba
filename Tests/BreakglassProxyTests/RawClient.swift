import BreakglassProxy
import Foundation
import NIOCore

/// A PostgreSQL client on a plain blocking socket, for what drivers do not let a test choose: when the
/// connection closes, and whether it closes with a FIN or a reset. Runs off the concurrency pool, whose
/// threads the proxy under test needs.
struct RawClient: Sendable {
    let socket: Int32

    /// Sends the startup packet and, once asked for it, the password; returns once the proxy is ready for a query.
    static func login(port: Int, user: String, password: String) async throws -> RawClient {
        try await offPool {
            let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { close(fd); throw POSIXError(.ECONNREFUSED) }
            let client = RawClient(socket: fd)
            try client.send([FrontendMessage.startup(.init(parameters: [(WireText("user"), WireText(user)), (WireText("database"), WireText("postgres"))]))])
            // AuthenticationCleartextPassword: 'R', length 8, code 3.
            var request = [UInt8](repeating: 0, count: 9)
            guard recv(fd, &request, 9, Int32(MSG_WAITALL)) == 9, request[0] == UInt8(ascii: "R") else { close(fd); throw POSIXError(.EPROTO) }
            try client.send([.password(WireText(password))])
            client.readUntilReadyForQuery()
            return client
        }
    }

    /// Sends the messages, then closes at once with the proxy's answers unread and SO_LINGER 0: a reset.
    func sendAndReset(_ messages: [FrontendMessage]) async throws {
        try await RawClient.offPool {
            try send(messages)
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(socket, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            close(socket)
        }
    }

    /// Sends the messages, reads until the proxy has answered the last of them, then closes with a FIN.
    func sendAndClose(_ messages: [FrontendMessage]) async throws {
        try await RawClient.offPool {
            try send(messages)
            readUntilReadyForQuery()
            close(socket)
        }
    }

    /// Reads until a ReadyForQuery ('Z', length 5, status) ends what was read, or the proxy closes.
    private func readUntilReadyForQuery() {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !(received.count >= 6 && received[received.count - 6] == UInt8(ascii: "Z") && received.suffix(5).prefix(4) == [0, 0, 0, 5]) {
            let count = recv(socket, &chunk, chunk.count, 0)
            guard count > 0 else { return }
            received += chunk.prefix(count)
        }
    }

    private func send(_ messages: [FrontendMessage]) throws {
        var out = ByteBuffer()
        for message in messages { message.encode(into: &out) }
        let bytes = Array(out.readableBytesView)
        guard Glibc.send(socket, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { throw POSIXError(.EPIPE) }
    }

    private static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
        }
    }
}
