/// What the proxy records of one statement a client ran: first as an intent (outcome nil), committed
/// before the message is forwarded, then again with its outcome once the server has answered (an outcome
/// record carries no SQL text or parameters: its intent has them). `sequence` ties the two together and
/// orders the statements of a connection.
public struct StatementRecord: Sendable, Hashable {
    public enum Origin: Sendable, Hashable {
        /// A simple-protocol Query; one query string can hold several statements, each with its own
        /// result, told apart by `resultIndex` (the proxy does not split SQL).
        case simpleQuery
        /// A Parse: the text a prepared statement is made of, recorded before the server sees it, so that a
        /// later `EXECUTE name` in SQL, or a Bind, points at recorded text.
        case parse(statement: String)
        /// A Bind: the statement's text as it stood when the portal was made, with the parameter values.
        /// Binding can already run code (domain checks, planning), so this is the intent; each Execute of
        /// the portal adds an outcome under the same sequence.
        case extended(statement: String, portal: String)
        /// A FunctionCall message: no SQL text, the function named by OID, its arguments as parameters.
        case functionCall(oid: UInt32)
    }

    public var sequence: Int
    public var origin: Origin
    /// The SQL text; nil when the statement was prepared before the recorder saw it, which the
    /// proxy's session never allows, so a nil here points at a recorder bug rather than a client trick.
    public var text: String?
    public var parameters: [RecordedParameter]
    /// For a simple query: 0 for the first result, 1 for the second… Always 0 for `.extended`.
    public var resultIndex: Int
    public var outcome: StatementOutcome?

    public init(sequence: Int, origin: Origin, text: String?, parameters: [RecordedParameter] = [], resultIndex: Int = 0,
                outcome: StatementOutcome? = nil) {
        self.sequence = sequence
        self.origin = origin
        self.text = text
        self.parameters = parameters
        self.resultIndex = resultIndex
        self.outcome = outcome
    }
}

public enum StatementOutcome: Sendable, Hashable {
    /// CommandComplete: its tag ("INSERT 0 3", "SELECT 2") and the DataRows counted before it.
    case completed(tag: String, rows: Int)
    /// EmptyQueryResponse: the query string held no statement.
    case empty
    /// PortalSuspended: the row limit of Execute was reached after `rows` rows.
    case suspended(rows: Int)
    /// A query string with more results than the recorder keeps one by one: how many more there were, and
    /// how many of them failed (a flood of results must not become a flood of audit rows).
    case omitted(results: Int, failed: Int)
    /// FunctionCallResponse: the function's result (subject to the same redaction as parameters).
    case returned(RecordedParameter)
    /// ErrorResponse: SQLSTATE and message, and the rows already sent before the error.
    case failed(sqlState: String, message: String, rows: Int)
    /// Never run: an earlier message of the same pipeline failed, so the server skipped to Sync.
    case skipped
}

/// A Bind parameter as recorded.
public enum RecordedParameter: Sendable, Hashable {
    case null
    /// A text-format value that is valid UTF-8.
    case text(String)
    /// A binary-format value (or text that is not UTF-8), as lowercase hex.
    case binary(hex: String)
    /// Kept out of the record by the target's policy; the size still shows that something was sent.
    case redacted(byteCount: Int)
}
