import Foundation

/// A `breakglass …` or `breakglassd …` command a document shows, and where.
public struct DocumentedCommand: Sendable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let text: String
    /// The shell comment after the command, if any (`# ✘ …` marks a command shown failing).
    public let comment: String?
    /// The whole fenced block the command stands in (nil for an inline code span).
    public let block: String?

    public var description: String { "\(file):\(line): \(text)" }
}

/// Reads commands out of the README and the runbooks the way a reader sees them: every line of a fenced
/// block that starts with `breakglass` or `breakglassd` (continuation lines joined, comments cut), and every
/// inline code span that does, in document order.
public enum DocumentCommands {
    public static var documents: [URL] {
        let root = TestDatabase.repositoryRoot
        let runbooks = root.appendingPathComponent("runbooks")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: runbooks.path)) ?? []).filter { $0.hasSuffix(".md") }.sorted()
        return [root.appendingPathComponent("README.md")] + names.map { runbooks.appendingPathComponent($0) }
    }

    public static func extract(_ markdown: String, file: String) -> [DocumentedCommand] {
        var out: [DocumentedCommand] = []
        let lines = markdown.components(separatedBy: "\n")
        var index = 0
        while index < lines.count {
            let line = lines[index]
            if line.trimmingCharacters(in: .whitespaces).hasPrefix("```") {
                var end = index + 1
                while end < lines.count && !lines[end].trimmingCharacters(in: .whitespaces).hasPrefix("```") { end += 1 }
                let body = Array(lines[(index + 1)..<min(end, lines.count)])
                let block = body.joined(separator: "\n")
                var logical = "", startLine = 0
                for (offset, raw) in body.enumerated() {
                    if logical.isEmpty { startLine = index + 2 + offset }
                    let trimmed = raw.trimmingCharacters(in: .whitespaces)
                    if trimmed.hasSuffix("\\") {
                        logical += String(trimmed.dropLast()) + " "
                        continue
                    }
                    logical += trimmed
                    let (command, comment) = splitComment(logical)
                    if isCommand(command) {
                        out.append(DocumentedCommand(file: file, line: startLine, text: command, comment: comment, block: block))
                    }
                    logical = ""
                }
                index = end + 1
                continue
            }
            for span in inlineSpans(line) where isCommand(span) {
                out.append(DocumentedCommand(file: file, line: index + 1, text: span, comment: nil, block: nil))
            }
            index += 1
        }
        return out
    }

    /// A program name with a subcommand: the bare words `breakglass` and `breakglassd` in prose name the programs.
    static func isCommand(_ text: String) -> Bool {
        text.hasPrefix("breakglass ") || text.hasPrefix("breakglassd ")
    }

    /// Cuts a trailing `# comment` that is outside quotes.
    static func splitComment(_ text: String) -> (String, String?) {
        var quote: Character?
        var previous: Character = " "
        for (offset, ch) in text.enumerated() {
            if let open = quote {
                if ch == open { quote = nil }
            } else if ch == "'" || ch == "\"" {
                quote = ch
            } else if ch == "#" && previous.isWhitespace {
                let cut = text.index(text.startIndex, offsetBy: offset)
                return (text[..<cut].trimmingCharacters(in: .whitespaces),
                        String(text[text.index(after: cut)...]).trimmingCharacters(in: .whitespaces))
            }
            previous = ch
        }
        return (text.trimmingCharacters(in: .whitespaces), nil)
    }

    static func inlineSpans(_ line: String) -> [String] {
        line.split(separator: "`", omittingEmptySubsequences: false).enumerated().compactMap { $0.offset % 2 == 1 ? String($0.element) : nil }
    }
}
