import BreakglassCore
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
}
