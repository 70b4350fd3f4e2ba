@testable import BreakglassCore
import Foundation
import XCTest

final class TimestampTests: XCTestCase {
    /// What `Timestamp.format` printed before it did its own arithmetic: audit bodies already sealed hold it.
    private func calendarFormat(_ date: Date) -> String {
        let millis = (date.timeIntervalSince1970 * 1000).rounded()
        let whole = Date(timeIntervalSince1970: (millis / 1000).rounded(.down))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: whole)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!,
                      Int(millis.truncatingRemainder(dividingBy: 1000)))
    }

    func testFormatMatchesTheGregorianCalendarAcrossLeapYearsAndCenturies() {
        var generator = SystemRandomNumberGenerator()
        var dates = [0, 951_782_400, 951_868_799.9996, 4_107_542_400, 253_402_300_799.999, 1_800_000_000.0005].map(Date.init(timeIntervalSince1970:))
        for _ in 0..<20_000 { dates.append(Date(timeIntervalSince1970: Double.random(in: 0..<253_402_300_799, using: &generator))) }
        for date in dates { XCTAssertEqual(Timestamp.format(date), calendarFormat(date), "\(date.timeIntervalSince1970)") }
    }

    func testFormattedTimesParseBack() {
        let date = Date(timeIntervalSince1970: 1_800_000_000.123)
        XCTAssertEqual(Timestamp.parse(Timestamp.format(date)).map(Timestamp.format), "2027-01-15T08:00:00.123Z")
    }

    /// The hand reader must land on the formatter's instant exactly: times read back are compared and re-sealed.
    func testHandReadTimesAreTheFormattersInstantsExactly() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let date = Date(timeIntervalSince1970: Double(Int64.random(in: 0...253_402_300_799_999, using: &generator)) / 1000)
            let written = Timestamp.format(date)
            let whole = String(written.prefix(19)) + "Z"
            for text in [written, whole] {
                XCTAssertNotNil(Self.handRead(text), "\(text) is read by hand")
                XCTAssertEqual(Timestamp.parse(text), Timestamp.parseISO8601(text), text)
            }
        }
    }

    func testEdgeCasesReadAsTheFormatterReadsThem() {
        let valid = ["1970-01-01T00:00:00.000Z", "2024-02-29T12:00:00.000Z", "2000-02-29T00:00:00Z", "2100-02-28T23:59:59.999Z",
                     "2026-12-31T23:59:59Z", "9999-12-31T23:59:59.999Z"]
        for text in valid {
            XCTAssertNotNil(Self.handRead(text), text)
            XCTAssertNotNil(Timestamp.parse(text), text)
            XCTAssertEqual(Timestamp.parse(text), Timestamp.parseISO8601(text), text)
        }
        // Not the broker's form, or not a real instant: left to the formatter, whatever it makes of them.
        let others = ["2026-02-29T00:00:00.000Z", "2100-02-29T00:00:00Z", "2026-13-01T00:00:00.000Z", "2026-01-01T24:00:00.000Z",
                      "2026-01-01T00:00:60.000Z", "1969-12-31T23:59:59.999Z", "2026-01-01T00:00:00.000+02:00", "2026-01-01T00:00:00.5Z",
                      "2026-01-01T00:00:00.000z", "2026-01-01 00:00:00.000Z", "2026-1-01T00:00:00.000Z", "", "not a time at all!!"]
        for text in others {
            XCTAssertNil(Self.handRead(text), text)
            XCTAssertEqual(Timestamp.parse(text), Timestamp.parseISO8601(text), text)
        }
        XCTAssertEqual(Timestamp.parse("2026-01-01T02:00:00.000+02:00"), Timestamp.parse("2026-01-01T00:00:00.000Z"), "offsets still read")
    }

    /// What comes from outside (a query parameter, a CLI option) is an RFC 3339 time and nothing else; the formatter
    /// alone would read every refused text below as some instant.
    func testAnExactReadingRefusesAnythingAroundOrInsteadOfAnRFC3339Time() {
        let read = ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.5Z", "2026-01-01T00:00:00.123456Z",
                    "2024-02-29T12:00:00Z", "2026-01-01T02:00:00.000+02:00", "2026-01-01T00:00:00-05:30"]
        for text in read {
            XCTAssertNotNil(Timestamp.parseExact(text), text)
            XCTAssertEqual(Timestamp.parseExact(text), Timestamp.parse(text), text)
        }
        let refused = ["2026-01-01T00:00:00Z\u{0}", "2026-01-01T00:00:00Zjunk", "2026-01-01T00:00:00.000Z ", " 2026-01-01T00:00:00Z",
                       "2026-02-29T00:00:00.000Z", "2100-02-29T00:00:00Z", "2026-01-01T24:00:00Z", "2026-1-01T00:00:00Z",
                       "\u{662}\u{660}\u{662}\u{666}-01-01T00:00:00Z", "2026-01-01T00:00:00+0200", "2026-01-01T00:00:00+02",
                       "2026-01-01T00:00:00+02:00x", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00", "2026-01-01T00:00:60Z",
                       "2026-01-01 00:00:00Z", "", "2026-01-01", "2026-01-01x00:00:00Z", "2026-01-01T00:00:00Y"]
        for text in refused { XCTAssertNil(Timestamp.parseExact(text), text.debugDescription) }
        // RFC 3339 lets the two letters be lower case.
        XCTAssertEqual(Timestamp.parseExact("2026-01-01t00:00:00.5z"), Timestamp.parse("2026-01-01T00:00:00.5Z"))
        XCTAssertEqual(Timestamp.parseExact("2026-01-01t02:00:00+02:00"), Timestamp.parse("2026-01-01T00:00:00Z"))
    }

    private static func handRead(_ text: String) -> Date? {
        Array(text.utf8).withUnsafeBufferPointer { Timestamp.parseWritten($0) }
    }
}
