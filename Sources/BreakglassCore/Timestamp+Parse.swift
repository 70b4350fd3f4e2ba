import Foundation

extension Timestamp {
    /// Any ISO 8601 internet time. The broker's own forms (`YYYY-MM-DDTHH:MM:SS.mmmZ`, and without the fraction) are
    /// read by hand: they are on every answer the CLI reads and every time a request carries. Anything else goes to
    /// a formatter made for the call (rare, and `ISO8601DateFormatter` is not safe to share between threads).
    public static func parse(_ text: String) -> Date? {
        var text = text
        if let date = text.withUTF8({ parseWritten($0) }) { return date }
        return parseISO8601(text)
    }

    /// RFC 3339's `date-time` and nothing around it: ASCII digits, a date the calendar has, a clock time, `T` (or `t`,
    /// as RFC 3339 allows), an optional fraction, `Z` (or `z`) or a `±HH:MM` offset. Times from outside the broker (a query parameter, a
    /// body field, a CLI option) are read with this: the formatter on its own reads a prefix and drops the rest
    /// (`…Z` followed by a NUL or by anything), skips leading blanks, takes other scripts' digits and rolls
    /// February 29th of a common year into March, so a mistyped bound would silently become another one.
    public static func parseExact(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard isInternetDateTime(bytes) else { return nil }
        // Only digits, separators and the two letters are left: read them upper-case, the form both readers know.
        return parse(String(decoding: bytes.map { $0 == 0x74 || $0 == 0x7A ? $0 - 0x20 : $0 }, as: UTF8.self))
    }

    static func isInternetDateTime(_ b: [UInt8]) -> Bool {
        func digits(_ at: Int, _ count: Int) -> Int? {
            guard at + count <= b.count else { return nil }
            var value = 0
            for i in at..<at + count {
                guard (0x30...0x39).contains(b[i]) else { return nil }
                value = value * 10 + Int(b[i] - 0x30)
            }
            return value
        }
        guard b.count >= 20, let year = digits(0, 4), b[4] == 0x2D, let month = digits(5, 2), b[7] == 0x2D, let day = digits(8, 2),
              b[10] == 0x54 || b[10] == 0x74, let hour = digits(11, 2), b[13] == 0x3A, let minute = digits(14, 2), b[16] == 0x3A,
              let second = digits(17, 2), (1...12).contains(month), (1...days(inMonth: month, year: year)).contains(day),
              hour < 24, minute < 60, second < 60 else { return false }
        var i = 19
        if b[i] == 0x2E {
            let fraction = i + 1
            i = fraction
            while i < b.count, (0x30...0x39).contains(b[i]) { i += 1 }
            guard i > fraction else { return false }
        }
        guard i < b.count else { return false }
        if b[i] == 0x5A || b[i] == 0x7A { return i + 1 == b.count }
        guard b[i] == 0x2B || b[i] == 0x2D, i + 6 == b.count, let offsetHours = digits(i + 1, 2), b[i + 3] == 0x3A,
              let offsetMinutes = digits(i + 4, 2) else { return false }
        return offsetHours < 24 && offsetMinutes < 60
    }

    /// Days in a month of the proleptic Gregorian calendar.
    static func days(inMonth month: Int, year: Int) -> Int {
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    }

    /// The formatter's reading, which the hand-read forms match instant for instant (`TimestampTests`).
    static func parseISO8601(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` or `YYYY-MM-DDTHH:MM:SSZ`, read to the same `Date` as the formatter; nil for
    /// anything else, including dates that do not exist and years before 1970 (the formatter's calendar turns
    /// Julian before 1582), which callers leave to the formatter.
    static func parseWritten(_ b: UnsafeBufferPointer<UInt8>) -> Date? {
        guard b.count == 24 || b.count == 20 else { return nil }
        func digits(_ at: Int, _ count: Int) -> Int? {
            var value = 0
            for i in at..<at + count {
                let d = Int(b[i]) - 0x30
                guard (0...9).contains(d) else { return nil }
                value = value * 10 + d
            }
            return value
        }
        let millis: Int?
        if b.count == 24 {
            millis = b[19] == 0x2E && b[23] == 0x5A ? digits(20, 3) : nil
        } else {
            millis = b[19] == 0x5A ? 0 : nil
        }
        guard let millis, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x54, b[13] == 0x3A, b[16] == 0x3A,
              let year = digits(0, 4), let month = digits(5, 2), let day = digits(8, 2), let hour = digits(11, 2),
              let minute = digits(14, 2), let second = digits(17, 2),
              year >= 1970, (1...12).contains(month), hour < 24, minute < 60, second < 60 else { return nil }
        guard (1...days(inMonth: month, year: year)).contains(day) else { return nil }
        // Days since 1970-01-01 in the proleptic Gregorian calendar (Howard Hinnant's days_from_civil).
        let y = month <= 2 ? year - 1 : year
        let era = y / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second
        return Date(timeIntervalSince1970: Double(seconds) + Double(millis) / 1000)
    }
}
