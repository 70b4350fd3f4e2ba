/// Pairs what a client sends with what the server answers, in order, and says what to record.
///
/// The server answers a connection's messages strictly in the order it received them, so a FIFO of
/// "messages still owed an answer" is enough to know which statement a CommandComplete or an
/// ErrorResponse belongs to. Pure: the proxy feeds it every forwarded message and persists what it
/// returns; `frontend(_:)` results must be committed before the message is forwarded (fail closed).
public struct StatementRecorder: Sendable {
    /// A message owed an answer, in the order sent.
    enum Pending: Sendable, Hashable {
        /// The login: its ReadyForQuery must not be taken for the answer to a later Sync.
        case startup
        case simpleQuery(sequence: Int, text: String)
        /// Answered by FunctionCallResponse or ErrorResponse, then ReadyForQuery.
        case functionCall(StatementRecord, resultFormat: Int16)
        /// Its record gets an outcome only if the server refuses it.
        case parse(StatementRecord)
        case bind(StatementRecord)
        case execute(StatementRecord)
        case describe
        case close
        /// Sync's answer is ReadyForQuery; an error before it skips everything up to it.
        case sync

        /// Whether ReadyForQuery is the last answer this message gets: the server's synchronisation point.
        var endsAtReadyForQuery: Bool {
            switch self {
            case .startup, .simpleQuery, .functionCall, .sync: true
            case .parse, .bind, .execute, .describe, .close: false
            }
        }

        /// The message that alone answers this one in full, where there is one.
        var completionType: UInt8? {
            switch self {
            case .parse: UInt8(ascii: "1")  // ParseComplete
            case .bind: UInt8(ascii: "2")  // BindComplete
            case .close: UInt8(ascii: "3")  // CloseComplete
            case .describe: UInt8(ascii: "n")  // NoData
            case .startup, .simpleQuery, .functionCall, .execute, .sync: nil
            }
        }
    }

    public let redaction: RedactionPolicy
    /// A query string's first results are recorded one by one; the rest only as a count.
    public static let resultsKeptPerQuery = 100
    private var pending: [Pending] = []
    private var nextSequence = 0
    /// Prepared statements by name ("" is the unnamed one), as the client's Parse messages made them, and
    /// portals by name with the record of the Bind that made them: the text is copied into the portal at
    /// Bind, because the portal keeps its plan when the statement is later replaced or closed.
    private var statements: [String: String] = [:]
    private var portals: [String: StatementRecord] = [:]
    /// For the simple query at the head: its results so far, the rows of the current one, and what was
    /// left out past `resultsKeptPerQuery`.
    private var resultIndex = 0
    private var rows = 0
    private var omitted = 0
    private var omittedFailed = 0

    public init(redaction: RedactionPolicy = .recordValues) {
        self.redaction = redaction
    }

    /// Messages the client sent and the server has not yet fully answered.
    public var outstanding: Int { pending.count }

    /// Takes a message from the client; returns the intents to commit before forwarding it.
    public mutating func frontend(_ message: FrontendMessage) -> [StatementRecord] {
        switch message {
        case .query(let text):
            let sequence = take()
            pending.append(.simpleQuery(sequence: sequence, text: text.string))
            return [StatementRecord(sequence: sequence, origin: .simpleQuery, text: text.string)]
        case .parse(let parse):
            let name = parse.statement.string
            let record = StatementRecord(sequence: take(), origin: .parse(statement: name), text: parse.query.string)
            // A named statement that exists already is refused by the server (42P05): it keeps its old text.
            // The unnamed one is replaced by every Parse, even one that fails.
            if name.isEmpty || statements[name] == nil { statements[name] = parse.query.string }
            pending.append(.parse(record))
            return [record]
        case .bind(let bind):
            let parameters = bind.parameters.indices.map { redaction.record(bind.parameters[$0], format: bind.format(ofParameter: $0)) }
            let statement = bind.statement.string
            let record = StatementRecord(sequence: take(), origin: .extended(statement: statement, portal: bind.portal.string),
                                         text: statements[statement], parameters: parameters)
            portals[bind.portal.string] = record
            pending.append(.bind(record))
            return [record]
        case .execute(let execute):
            if let record = portals[execute.portal.string] {
                // Its intent (text and parameters) was committed at Bind; this Execute only adds an outcome.
                pending.append(.execute(record))
                return []
            }
            // A portal no Bind made here, such as a cursor a recorded DECLARE opened: recorded by name.
            let record = StatementRecord(sequence: take(), origin: .extended(statement: "", portal: execute.portal.string), text: nil)
            portals[execute.portal.string] = record
            pending.append(.execute(record))
            return [record]
        case .functionCall(let call):
            let arguments = call.arguments.indices.map { redaction.record(call.arguments[$0], format: formatCode(call.argumentFormats, $0)) }
            let record = StatementRecord(sequence: take(), origin: .functionCall(oid: call.functionOID), text: nil, parameters: arguments)
            pending.append(.functionCall(record, resultFormat: call.resultFormat))
            return [record]
        case .describe:
            pending.append(.describe)
        case .close(let object):
            switch object.kind {
            case .statement: statements[object.name.string] = nil
            case .portal: portals[object.name.string] = nil
            }
            pending.append(.close)
        case .sync:
            pending.append(.sync)
        case .startup:
            pending.append(.startup)
        case .sslRequest, .gssEncRequest, .cancelRequest, .flush, .terminate, .password, .other:
            break
        }
        return []
    }

    /// Takes a message from the server; returns the records that now have their outcome.
    public mutating func backend(_ message: BackendMessage) -> [StatementRecord] {
        guard let head = pending.first else { return [] }
        switch (message, head) {
        case (.dataRow, .simpleQuery), (.dataRow, .execute):
            rows += 1
        case (.commandComplete(let tag), _):
            return finishResult(.completed(tag: tag.string, rows: rows))
        case (.emptyQueryResponse, _):
            return finishResult(.empty)
        case (.portalSuspended, .execute(var record)):
            record.outcome = .suspended(rows: rows)
            popHead()
            return [record]
        case (.other(let type, let body), .functionCall(var record, let format)) where type == UInt8(ascii: "V"):
            // FunctionCallResponse: the result value; ReadyForQuery follows and pops the call.
            var result = MessageBody(buffer: body, type: type)
            let value = (try? result.value("result")) ?? nil
            record.outcome = .returned(redaction.record(value, format: format))
            return [record]
        case (.errorResponse(let error), _):
            return fail(with: error)
        case (.readyForQuery, _):
            // Ends a simple query or a Sync; anything still owed before it was skipped by the server.
            var finished: [StatementRecord] = []
            if case .simpleQuery(let sequence, _) = head, omitted > 0 {
                finished.append(StatementRecord(sequence: sequence, origin: .simpleQuery, text: nil, resultIndex: resultIndex,
                                                outcome: .omitted(results: omitted, failed: omittedFailed)))
            }
            while let first = pending.first {
                popHead()
                if case .execute(var record) = first {
                    record.outcome = .skipped
                    finished.append(record)
                }
                if first.endsAtReadyForQuery { break }
            }
            return finished
        case (.rowDescription, .describe):
            // Describe ends with RowDescription or NoData (after a ParameterDescription for statements).
            popHead()
        default:
            if message.type == head.completionType { popHead() }
        }
        return []
    }

    private mutating func take() -> Int {
        defer { nextSequence += 1 }
        return nextSequence
    }

    private mutating func popHead() {
        pending.removeFirst()
        rows = 0
        resultIndex = 0
        omitted = 0
        omittedFailed = 0
    }

    private mutating func finishResult(_ outcome: StatementOutcome) -> [StatementRecord] {
        switch pending.first {
        case .simpleQuery(let sequence, _):
            // A simple query stays at the head until ReadyForQuery: it may hold more statements.
            rows = 0
            if resultIndex >= Self.resultsKeptPerQuery {
                omitted += 1
                if case .failed = outcome { omittedFailed += 1 }
                return []
            }
            let record = StatementRecord(sequence: sequence, origin: .simpleQuery, text: nil, resultIndex: resultIndex, outcome: outcome)
            resultIndex += 1
            return [record]
        case .execute(var record):
            record.outcome = outcome
            popHead()
            return [record]
        default:
            return []
        }
    }

    private mutating func fail(with error: BackendMessage.ErrorFields) -> [StatementRecord] {
        let outcome = StatementOutcome.failed(sqlState: error.sqlState ?? "", message: error.message ?? "", rows: rows)
        switch pending.first {
        case .simpleQuery:
            // The server stops at the first failing statement of a query string and then sends
            // ReadyForQuery, which pops the query.
            return finishResult(outcome)
        case .functionCall(var record, _):
            record.outcome = outcome
            return [record]
        case .parse(var record), .bind(var record):
            // A refused Parse or Bind: its record gets the error, then the pipeline is skipped as below.
            record.outcome = outcome
            popHead()
            return [record] + skipToSync()
        case .execute, .describe, .close:
            // Extended protocol: the server skips everything up to the next Sync. The failing Execute
            // (if an Execute failed) gets the error; every later Execute before the Sync is skipped and
            // reported so now, since the server will never answer it.
            let finished = finishResult(outcome)
            if finished.isEmpty { popHead() }
            return finished + skipToSync()
        case .startup, .sync, .none:
            // An error at login, answering Sync (a deferred constraint at commit) or with nothing owed
            // (a FATAL at shutdown) belongs to no single statement; the proxy records it as a session event.
            return []
        }
    }

    /// After an error in the extended protocol: every Execute and Bind still owed before the next Sync is
    /// never run; their records say so now, since the server will not answer them.
    private mutating func skipToSync() -> [StatementRecord] {
        var finished: [StatementRecord] = []
        var kept: [Pending] = []
        var reachedSync = false
        for item in pending {
            reachedSync = reachedSync || item.endsAtReadyForQuery
            if reachedSync {
                kept.append(item)
                continue
            }
            switch item {
            case .bind(var record), .execute(var record):
                // A skipped Bind's Execute is the same statement: one "skipped" for both.
                guard !finished.contains(where: { $0.sequence == record.sequence }) else { continue }
                record.outcome = .skipped
                finished.append(record)
            default:
                continue
            }
        }
        pending = kept
        return finished
    }
}

extension BackendMessage {
    /// The type byte this message is framed with.
    public var type: UInt8 {
        switch self {
        case .authentication: UInt8(ascii: "R")
        case .parameterStatus: UInt8(ascii: "S")
        case .backendKeyData: UInt8(ascii: "K")
        case .readyForQuery: UInt8(ascii: "Z")
        case .commandComplete: UInt8(ascii: "C")
        case .errorResponse: UInt8(ascii: "E")
        case .dataRow: UInt8(ascii: "D")
        case .rowDescription: UInt8(ascii: "T")
        case .emptyQueryResponse: UInt8(ascii: "I")
        case .portalSuspended: UInt8(ascii: "s")
        case .other(let type, _): type
        }
    }
}
