import Foundation

/// The URL of a retroactive pull (or merge) request, as GitHub and GitLab print them.
public enum PullRequestLink {
    /// Accepts `https://HOST/OWNER/REPO/pull/N` (GitHub, GitHub Enterprise) and
    /// `https://HOST/GROUP[/SUBGROUP…]/PROJECT/-/merge_requests/N` (GitLab); returns it without a trailing slash.
    public static func validate(_ text: String) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let problem = "'\(trimmed.prefix(120))' is not a pull request URL such as https://github.com/acme/payments/pull/123 or https://gitlab.com/acme/payments/-/merge_requests/45"
        guard trimmed.count <= 400, let url = URLComponents(string: trimmed), url.scheme == "https",
              let host = url.host, !host.isEmpty, url.user == nil, url.password == nil, url.query == nil, url.fragment == nil else {
            throw BreakglassError.invalid("url", problem)
        }
        var segments = url.path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if segments.first == "" { segments.removeFirst() }
        if segments.last == "" { segments.removeLast() }
        let namePart: (String) -> Bool = { part in
            !part.isEmpty && part.count <= 100 && part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
                && part != "." && part != ".."
        }
        let number: (String) -> Bool = { part in
            (1...10).contains(part.count) && part.allSatisfy { $0.isASCII && $0.isNumber } && part.first != "0"
        }
        let github = segments.count == 4 && segments[2] == "pull" && namePart(segments[0]) && namePart(segments[1]) && number(segments[3])
        let gitlab: Bool = {
            guard segments.count >= 5, let dash = segments.firstIndex(of: "-"), dash >= 2, dash == segments.count - 3,
                  segments[dash + 1] == "merge_requests", number(segments[dash + 2]) else { return false }
            return segments[..<dash].allSatisfy(namePart)
        }()
        guard github || gitlab else { throw BreakglassError.invalid("url", problem) }
        return "https://\(host)\(url.port.map { ":\($0)" } ?? "")/" + segments.joined(separator: "/")
    }

    /// Session ids mentioned in a PR's title, body or branch name (`bg_…`, any case), uppercased as stored.
    public static func sessionIds(in texts: [String]) -> [String] {
        var found: [String] = []
        for text in texts {
            let chars = Array(text.utf8)
            var index = 0
            while index + 23 <= chars.count {
                let startsWord = index == 0 || !isIdChar(chars[index - 1])
                if startsWord, chars[index] | 0x20 == UInt8(ascii: "b"), chars[index + 1] | 0x20 == UInt8(ascii: "g"),
                   chars[index + 2] == UInt8(ascii: "_") {
                    let body = chars[(index + 3)..<(index + 23)]
                    let endsWord = index + 23 == chars.count || !isIdChar(chars[index + 23])
                    if endsWord, body.allSatisfy(isBase32) {
                        let id = "bg_" + String(decoding: body, as: UTF8.self).uppercased()
                        if !found.contains(id) { found.append(id) }
                        index += 23
                        continue
                    }
                }
                index += 1
            }
        }
        return found
    }

    private static func isBase32(_ c: UInt8) -> Bool {
        let upper = c & ~0x20
        return (upper >= UInt8(ascii: "A") && upper <= UInt8(ascii: "Z")) || (c >= UInt8(ascii: "2") && c <= UInt8(ascii: "7"))
    }

    private static func isIdChar(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c & ~0x20 >= UInt8(ascii: "A") && c & ~0x20 <= UInt8(ascii: "Z")) || c == UInt8(ascii: "_")
    }
}
