import BreakglassCore
import Foundation
import XCTest

final class OneTimePasswordTests: XCTestCase {
    /// RFC 4226 Appendix D: secret "12345678901234567890", counters 0-9.
    func testHOTPMatchesRFC4226Vectors() {
        let otp = OneTimePassword(secret: Array("12345678901234567890".utf8))
        let expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]
        for (counter, code) in expected.enumerated() {
            XCTAssertEqual(otp.hotp(counter: UInt64(counter)), code, "counter \(counter)")
        }
    }

    /// RFC 6238 Appendix B: 8 digits, 30 s, seeds of 20/32/64 bytes for SHA1/SHA256/SHA512.
    func testTOTPMatchesRFC6238Vectors() {
        let seeds: [OneTimePassword.Algorithm: String] = [
            .sha1: "12345678901234567890",
            .sha256: "12345678901234567890123456789012",
            .sha512: "1234567890123456789012345678901234567890123456789012345678901234",
        ]
        let vectors: [(TimeInterval, String, String, String)] = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ]
        for (time, sha1, sha256, sha512) in vectors {
            let date = Date(timeIntervalSince1970: time)
            for (algorithm, code) in [(OneTimePassword.Algorithm.sha1, sha1), (.sha256, sha256), (.sha512, sha512)] {
                let otp = OneTimePassword(secret: Array(seeds[algorithm]!.utf8), algorithm: algorithm, digits: 8)
                XCTAssertEqual(otp.code(at: date), code, "\(algorithm) at \(time)")
            }
        }
    }

    /// RFC 4648 section 10 test vectors.
    func testBase32MatchesRFC4648Vectors() {
        let vectors = [("", ""), ("f", "MY======"), ("fo", "MZXQ===="), ("foo", "MZXW6==="), ("foob", "MZXW6YQ="),
                       ("fooba", "MZXW6YTB"), ("foobar", "MZXW6YTBOI======")]
        for (plain, encoded) in vectors {
            XCTAssertEqual(Base32.encode(Array(plain.utf8), padded: true), encoded)
            XCTAssertEqual(Base32.decode(encoded), Array(plain.utf8))
            XCTAssertEqual(Base32.decode(encoded.lowercased().replacingOccurrences(of: "=", with: "")), Array(plain.utf8))
        }
        XCTAssertNil(Base32.decode("MZXW1"), "1 is not in the alphabet")
    }

    func testProvisioningURIHasIssuerInLabelAndParameterAndUnpaddedSecret() {
        let otp = OneTimePassword(secret: Array("12345678901234567890".utf8))
        XCTAssertEqual(otp.provisioningURI(issuer: "Acme Breakglass", account: "alice"),
                       "otpauth://totp/Acme%20Breakglass:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Breakglass&algorithm=SHA1&digits=6&period=30")
    }

    func testVerifierAcceptsOneStepEitherSideAndNoFurther() {
        let otp = OneTimePassword(secret: Array("12345678901234567890".utf8))
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let step = otp.step(at: now)
        let verifier = TOTPVerifier()
        for offset in [-1, 0, 1] {
            let code = otp.hotp(counter: UInt64(step + Int64(offset)))
            XCTAssertEqual(verifier.verify(code: code, otp: otp, at: now, lastUsedStep: 0), .accepted(step: step + Int64(offset)))
        }
        for offset in [-2, 2] {
            XCTAssertEqual(verifier.verify(code: otp.hotp(counter: UInt64(step + Int64(offset))), otp: otp, at: now, lastUsedStep: 0), .wrong)
        }
        XCTAssertEqual(verifier.verify(code: "12345", otp: otp, at: now, lastUsedStep: 0), .wrong)
        XCTAssertEqual(verifier.verify(code: "abcdef", otp: otp, at: now, lastUsedStep: 0), .wrong)
    }

    func testSpentStepAndEveryEarlierStepAreRefusedAsReused() {
        let otp = OneTimePassword(secret: Array("12345678901234567890".utf8))
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let step = otp.step(at: now)
        let verifier = TOTPVerifier()
        XCTAssertEqual(verifier.verify(code: otp.hotp(counter: UInt64(step)), otp: otp, at: now, lastUsedStep: step), .reused(replayOfLast: true))
        XCTAssertEqual(verifier.verify(code: otp.hotp(counter: UInt64(step - 1)), otp: otp, at: now, lastUsedStep: step), .reused(replayOfLast: false))
        XCTAssertEqual(verifier.verify(code: otp.hotp(counter: UInt64(step + 1)), otp: otp, at: now, lastUsedStep: step), .accepted(step: step + 1))
    }

    func testLockoutAfterTheFifthFailureInTheWindow() {
        let policy = LockoutPolicy()
        let now = Date(timeIntervalSince1970: 0)
        XCTAssertNil(policy.lockedUntil(afterFailureNumber: 3, now: now))
        XCTAssertEqual(policy.lockedUntil(afterFailureNumber: 4, now: now), now + 15 * 60)
    }
}
