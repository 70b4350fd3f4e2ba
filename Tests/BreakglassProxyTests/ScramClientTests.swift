@testable import BreakglassProxy
import Foundation
import XCTest

/// The exchange of RFC 7677 section 3, byte for byte. The server signature is the corrected one of the
/// RFC's errata (the printed `v=6rriTRBi23WpRR/wzupmRfnmeTh1KzzCHxc8iLNdzoU=` does not follow from its inputs;
/// Python's hashlib/hmac give the value below).
final class ScramClientTests: XCTestCase {
    let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"

    func client() -> ScramClient { ScramClient(user: "user", password: "pencil", clientNonce: "rOprNGfwEbeRWgbNEkqO") }

    func testTheRFC7677ExchangeProducesItsMessagesAndAcceptsItsServerSignature() throws {
        var scram = client()
        XCTAssertEqual(String(decoding: try scram.clientFirstMessage(), as: UTF8.self), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
        let final = try scram.clientFinalMessage(serverFirst: Array(serverFirst.utf8))
        XCTAssertEqual(String(decoding: final, as: UTF8.self),
                       "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
        XCTAssertNoThrow(try scram.verifyServerFinal(Array("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".utf8)))
    }

    func testAServerThatCannotProveTheKeyIsRefused() throws {
        var scram = client()
        _ = try scram.clientFirstMessage()
        _ = try scram.clientFinalMessage(serverFirst: Array(serverFirst.utf8))
        XCTAssertThrowsError(try scram.verifyServerFinal(Array("v=AAAATRBi23WpRR/wzupmRfnmeTh1KzzCHxc8iLNdzoU=".utf8))) {
            XCTAssertEqual($0 as? ScramClient.Failure, .serverSignatureMismatch)
        }
    }

    func testANonceThatDoesNotExtendOursAndAHugeIterationCountAreRefused() throws {
        var scram = client()
        _ = try scram.clientFirstMessage()
        XCTAssertThrowsError(try scram.clientFinalMessage(serverFirst: Array("r=other,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096".utf8))) {
            XCTAssertEqual($0 as? ScramClient.Failure, .nonceMismatch)
        }
        var greedy = client()
        _ = try greedy.clientFirstMessage()
        XCTAssertThrowsError(try greedy.clientFinalMessage(
            serverFirst: Array("r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=999999999".utf8))) {
            XCTAssertEqual($0 as? ScramClient.Failure, .iterationCountOutOfRange(999_999_999))
        }
    }

    func testOutOfOrderStepsAndServerErrorsAreRefused() throws {
        var scram = client()
        XCTAssertThrowsError(try scram.verifyServerFinal(Array("v=x".utf8)))
        _ = try scram.clientFirstMessage()
        XCTAssertThrowsError(try scram.clientFirstMessage())
        _ = try scram.clientFinalMessage(serverFirst: Array(serverFirst.utf8))
        XCTAssertThrowsError(try scram.verifyServerFinal(Array("e=invalid-proof".utf8))) {
            XCTAssertEqual($0 as? ScramClient.Failure, .serverError("invalid-proof"))
        }
    }
}
