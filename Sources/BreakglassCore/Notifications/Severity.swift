import Foundation

/// How loud a page is: PagerDuty maps info and warning to low urgency, error and critical to high.
/// Escalation rungs carry one each (`level3@+1d/critical`).
public enum Severity: String, Codable, Sendable, CaseIterable, StoredEnum {
    case info, warning, error, critical
}
