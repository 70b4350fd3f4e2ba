import Foundation

/// A closed set of strings kept in a text column. Reading back a value outside the set is a corrupt row
/// (an internal error naming where it was), never a default: a default would quietly turn an unknown state
/// into a known one, an altered retro status into "owed", a failed session into "expired".
public protocol StoredEnum: RawRepresentable, Sendable where RawValue == String {}

extension StoredEnum {
    /// `place` names the value for the operator, e.g. "the status of the retro obligation of bg_… (retro_obligations.status)".
    /// The stored text itself is left out of the message: it is whatever was written into the row.
    public init(stored text: String, _ place: @autoclosure () -> String) throws {
        guard let value = Self(rawValue: text) else { throw BreakglassError.corruptRow(place()) }
        self = value
    }

    /// The same for a nullable column: NULL stays nil, anything else must be in the set.
    public init?(stored text: String?, _ place: @autoclosure () -> String) throws {
        guard let text else { return nil }
        try self.init(stored: text, place())
    }
}

extension SessionState: StoredEnum {}
extension RetroStatus: StoredEnum {}
extension RetroPRSource: StoredEnum {}
extension RetroDeadlineBasis: StoredEnum {}
extension CredentialKind: StoredEnum {}
extension ChannelKind: StoredEnum {}
extension Role: StoredEnum {}
