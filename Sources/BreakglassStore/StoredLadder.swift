import BreakglassCore
import Foundation
import NIOConcurrencyHelpers

/// An obligation's escalation ladder as `retro_obligations.ladder` stores it (JSON). Nearly every activation carries the
/// configured ladder, so the last one written is kept: encoding it afresh each time was a visible share of the broker's
/// CPU per activation.
enum StoredLadder {
    private static let last = NIOLockedValueBox<(ladder: EscalationLadder, json: String)?>(nil)

    static func json(_ ladder: EscalationLadder) throws -> String {
        if let last = last.withLockedValue({ $0 }), last.ladder == ladder { return last.json }
        let json = String(decoding: try JSONEncoder().encode(ladder), as: UTF8.self)
        last.withLockedValue { $0 = (ladder, json) }
        return json
    }
}
