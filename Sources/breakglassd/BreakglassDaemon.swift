import ArgumentParser

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
}
