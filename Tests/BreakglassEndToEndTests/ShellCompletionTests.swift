import BreakglassTestSupport
import Foundation
import XCTest

/// Completions for bash, zsh and fish come from the binaries themselves; the documented install command
/// writes them where each shell looks, and they name the subcommands.
final class ShellCompletionTests: XCTestCase {
    let subcommands = ["breakglass": ["request", "enroll", "notify", "set-channel", "compliance", "audit"],
                       "breakglassd": ["serve", "migrate", "check", "admin"]]

    func testEveryShellGetsCompletionsNamingTheSubcommands() async throws {
        for (binary, names) in subcommands {
            for shell in ["bash", "zsh", "fish"] {
                let result = try await Tools.run(Tools.binDirectory.appendingPathComponent(binary).path, ["--generate-completion-script", shell])
                XCTAssertEqual(result.status, 0, "\(binary) \(shell): \(result.stderr)")
                for name in names {
                    XCTAssertTrue(result.stdout.contains(name), "\(binary) \(shell) completion lacks \(name)")
                }
            }
        }
    }

    func testTheInstallScriptWritesEachShellsFilesAndBashParsesThem() async throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("bg-home-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        let path = Tools.binDirectory.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let result = try await Tools.run(TestDatabase.repositoryRoot.appendingPathComponent("scripts/install-completions.sh").path, [],
                                         environment: ["HOME": home.path, "PATH": path, "XDG_DATA_HOME": "", "XDG_CONFIG_HOME": ""])
        XCTAssertEqual(result.status, 0, result.stderr)
        for name in ["breakglass", "breakglassd"] {
            for file in [".local/share/bash-completion/completions/\(name)", ".local/share/zsh/site-functions/_\(name)",
                         ".config/fish/completions/\(name).fish"] {
                let size = (try? FileManager.default.attributesOfItem(atPath: home.appendingPathComponent(file).path)[.size] as? Int) ?? 0
                XCTAssertGreaterThan(size, 100, file)
            }
            let syntax = try await Tools.run("/bin/bash", ["-n", home.appendingPathComponent(".local/share/bash-completion/completions/\(name)").path])
            XCTAssertEqual(syntax.status, 0, syntax.stderr)
        }
    }
}
