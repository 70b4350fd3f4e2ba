import BreakglassCore
import Foundation
import XCTest

final class ValidationTests: XCTestCase {
    /// Names are checked byte by byte before the regular expression is consulted: both must accept the same names.
    func testNamesAreAcceptedExactlyAsTheirPatternsAccept() {
        let rules: [(String, (String) throws -> String)] = [
            ("^[a-z][a-z0-9._-]{1,62}$", Validation.userName), ("^[a-z0-9][a-z0-9._-]{0,62}$", Validation.targetName),
            ("^[A-Za-z0-9][A-Za-z0-9._:/#-]{1,63}$", Validation.incident),
        ]
        let alphabet = Array("aZz09._-:/#@ Ä\n`{[")
        var generator = SystemRandomNumberGenerator()
        var samples = ["a", "ab", "payments-db", "INC-4521", "inc", String(repeating: "a", count: 63), String(repeating: "a", count: 64),
                       String(repeating: "A", count: 65), "payments-db\n", "-db", "Db"]
        for _ in 0..<5000 {
            samples.append(String((0..<Int.random(in: 1...70, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }))
        }
        for (pattern, validate) in rules {
            for sample in samples {
                let subject = pattern.contains("#") ? sample.trimmingCharacters(in: .whitespaces) : sample
                let expected = subject.range(of: pattern, options: .regularExpression) != nil
                XCTAssertEqual((try? validate(sample)) != nil, expected, "\(pattern) \(sample.debugDescription)")
            }
        }
    }
}
