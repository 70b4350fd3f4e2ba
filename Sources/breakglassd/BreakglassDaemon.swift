import ArgumentParser
import NIOCore
import NIOPosix

@main
struct BreakglassDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "breakglassd",
        abstract: "The breakglass emergency access broker.",
        discussion: """
            With no database configured, breakglassd runs on a private PostgreSQL cluster it creates in its data \
            directory (BREAKGLASS_DATA_DIR; /var/lib/breakglass as root). DATABASE_URL or the libpq PG* variables \
            select an external server instead.
            """,
        subcommands: [Serve.self, Migrate.self, Check.self, Admin.self],
        defaultSubcommand: Serve.self)

    static func main() async {
        // Tasks run on NIO's event loops, where the HTTP and PostgreSQL sockets are, instead of hopping to Swift's
        // own pool and back on every read and write: those thread switches were a large share of the broker's CPU
        // per activation. First, before any task is started; the broker blocks no thread (child processes are
        // awaited through swift-subprocess), which is what running on the event loops asks.
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        await main(nil)
    }
}
