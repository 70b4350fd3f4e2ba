import Foundation

/// How an API token was obtained (`api_tokens.issued_via`): by confirming an enrolment, or by `breakglass login`.
public enum TokenIssuance: String, Codable, Sendable, CaseIterable, StoredEnum {
    case enrollment, login
}
