import Foundation
import Ichigo
import IchigoFiles
import IchigoTesting
import Logging
import Testing

@testable import IchigoRuntime

/// A record as the chain makes it, for formatting tests.
private func record(
    sequence: Int64 = 12, at millis: Int64 = 1_777_777_777_123, actor: String = "api:gateway",
    action: String = "otp.verify", subject: String = "user:U1", outcome: String = "accepted", reason: String? = nil
) -> AuditRecord {
    AuditRecord(
        sequence: sequence,
        event: AuditEvent(
            at: Date(timeIntervalSince1970: Double(millis) / 1000), actor: actor, action: action, subject: subject,
            outcome: outcome, reason: reason),
        previousHash: String(repeating: "a", count: 64), hash: String(repeating: "b", count: 64))
}

/// An RFC 5424 reader written from the RFC's ABNF (§6), independent of the formatter: octet-counted frame, header,
/// one SD-ELEMENT with its PARAM-VALUEs unescaped (§6.3.3), MSG bytes.
private struct ParsedSyslog {
    var priority: Int
    var header: [String]  // VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
    var structuredDataID: String
    var parameters: [(name: String, value: String)]
    var message: [UInt8]

    init(frame: [UInt8]) throws {
        struct Malformed: Error {}
        var index = 0
        var length = 0
        while frame[index] != 0x20 {
            guard (0x30...0x39).contains(frame[index]) else { throw Malformed() }
            length = length * 10 + Int(frame[index] - 0x30)
            index += 1
        }
        index += 1
        guard frame.count - index == length else { throw Malformed() }
        let bytes = Array(frame[index...])
        var at = 0
        func token() -> String {
            let start = at
            while at < bytes.count, bytes[at] != 0x20 { at += 1 }
            defer { at += 1 }
            return String(decoding: bytes[start..<at], as: UTF8.self)
        }
        let first = token()
        guard first.hasPrefix("<"), let close = first.firstIndex(of: ">"),
            let priority = Int(first[first.index(after: first.startIndex)..<close])
        else { throw Malformed() }
        self.priority = priority
        header = [String(first[first.index(after: close)...])] + (0..<5).map { _ in token() }
        guard bytes[at] == UInt8(ascii: "[") else { throw Malformed() }
        at += 1
        let idStart = at
        while bytes[at] != 0x20 && bytes[at] != UInt8(ascii: "]") { at += 1 }
        structuredDataID = String(decoding: bytes[idStart..<at], as: UTF8.self)
        parameters = []
        while bytes[at] == 0x20 {
            at += 1
            let nameStart = at
            while bytes[at] != UInt8(ascii: "=") { at += 1 }
            let name = String(decoding: bytes[nameStart..<at], as: UTF8.self)
            at += 1
            guard bytes[at] == UInt8(ascii: "\"") else { throw Malformed() }
            at += 1
            var value: [UInt8] = []
            while bytes[at] != UInt8(ascii: "\"") {
                if bytes[at] == UInt8(ascii: "\\"),
                    [UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "]")]
                        .contains(bytes[at + 1])
                {
                    at += 1
                } else if bytes[at] == UInt8(ascii: "]") {
                    throw Malformed()  // an unescaped `]` inside a value
                }
                value.append(bytes[at])
                at += 1
            }
            at += 1
            parameters.append((name, String(decoding: value, as: UTF8.self)))
        }
        guard bytes[at] == UInt8(ascii: "]"), bytes[at + 1] == 0x20 else { throw Malformed() }
        message = Array(bytes[(at + 2)...])
    }

    subscript(_ name: String) -> String? { parameters.first { $0.name == name }?.value }
}

@Suite("Audit records for the SIEM: RFC 5424, JSON Lines")
struct AuditRecordFormatTests {
    @Test(
        "SD-PARAM values escape \", \\ and ] with a backslash and nothing else (RFC 5424 §6.3.3)",
        arguments: [
            (#"plain"#, #"plain"#),
            (#"say "hi""#, #"say \"hi\""#),
            (#"C:\path"#, #"C:\\path"#),
            (#"[a]"#, #"[a\]"#),
            (#"\"]"#, #"\\\"\]"#),
            ("= 山田 太郎 ' [", "= 山田 太郎 ' ["),
        ])
    func escaping(value: String, escaped: String) {
        #expect(SyslogAuditFormat.escapeParameterValue(value) == escaped)
    }

    @Test("a record becomes one RFC 5424 message: PRI, header, every field in ichigo@32473, BOM and the line")
    func wholeMessage() {
        let format = SyslogAuditFormat(facility: .authpriv, hostname: "ib1.bank.example")
        let text = String(decoding: format.message(for: record()), as: UTF8.self)
        #expect(
            text
                == "<85>1 2026-05-03T03:09:37.123Z ib1.bank.example ichigo - otp.verify [ichigo@32473 seq=\"12\" hash=\"\(String(repeating: "b", count: 64))\" prev=\"\(String(repeating: "a", count: 64))\" at=\"2026-05-03T03:09:37.123Z\" actor=\"api:gateway\" action=\"otp.verify\" subject=\"user:U1\" outcome=\"accepted\"] \u{FEFF}#12 otp.verify by api:gateway on user:U1: accepted"
        )
    }

    @Test("a refusal is a warning, everything else a notice, in the configured facility")
    func priority() throws {
        let authpriv = SyslogAuditFormat(facility: .authpriv, hostname: "h")
        let local4 = SyslogAuditFormat(facility: .local4, hostname: "h")
        let refused = record(outcome: "refused", reason: "invalid_code")
        #expect(try ParsedSyslog(frame: authpriv.frame(for: record())).priority == 10 * 8 + 5)
        #expect(try ParsedSyslog(frame: authpriv.frame(for: refused)).priority == 10 * 8 + 4)
        #expect(try ParsedSyslog(frame: local4.frame(for: refused)).priority == 20 * 8 + 4)
        #expect(SyslogFacility(name: "AUTHPRIV") == .authpriv && SyslogFacility(name: "local7")?.rawValue == 23)
        #expect(SyslogFacility(name: "solaris-cron")?.rawValue == 15 && SyslogFacility(name: "mainframe") == nil)
    }

    @Test(
        "any field survives the trip through a frame: Japanese text, quotes, backslashes, brackets, newlines",
        arguments: [
            ("operator:佐藤", "user.create", "U1", "ok", "login=やまだ role=customer"),
            ("api:\"quoted\"", "token.unlock", #"C:\temp\]"#, "ok", nil),
            ("cli", "contract.create", "いちご商事株式会社 [本店]", "ok", "名前=\"いちご\" \\ ]]"),
            ("api", "otp.verify", "user:U2", "refused", "line one\nline two"),
        ])
    func roundTrip(actor: String, action: String, subject: String, outcome: String, reason: String?) throws {
        let original = record(actor: actor, action: action, subject: subject, outcome: outcome, reason: reason)
        let frame = SyslogAuditFormat(hostname: "host").frame(for: original)
        let parsed = try ParsedSyslog(frame: frame)
        #expect(parsed.header == ["1", "2026-05-03T03:09:37.123Z", "host", "ichigo", "-", action])
        #expect(parsed.structuredDataID == "ichigo@32473")
        #expect(parsed["seq"] == "12" && parsed["hash"] == original.hash && parsed["prev"] == original.previousHash)
        #expect(parsed["at"] == "2026-05-03T03:09:37.123Z")
        #expect(parsed["actor"] == actor && parsed["action"] == action && parsed["subject"] == subject)
        #expect(parsed["outcome"] == outcome && parsed["reason"] == reason)
        // MSG-UTF8: a BOM, then valid UTF-8 that still reads as the summary, Japanese included.
        #expect(Array(parsed.message.prefix(3)) == [0xEF, 0xBB, 0xBF])
        let message = String(validating: parsed.message.dropFirst(3), as: UTF8.self)
        #expect(message == SyslogAuditFormat.summary(of: original))
        #expect(message?.contains(subject) == true)
    }

    @Test("the octet count is the message's length in bytes, not characters (RFC 6587 §3.4.1)")
    func octetCounting() throws {
        let original = record(subject: "山田太郎", reason: "日本語")
        let format = SyslogAuditFormat(hostname: "h")
        let message = format.message(for: original)
        let frame = format.frame(for: original)
        #expect(frame == Array("\(message.count) ".utf8) + message)
        #expect(message.count > String(decoding: message, as: UTF8.self).count)
    }

    @Test("header fields hold printable US-ASCII only: HOSTNAME and MSGID are cleaned, cut, or NILVALUE")
    func headerFields() throws {
        let format = SyslogAuditFormat(hostname: "本店 サーバー")
        let long = String(repeating: "x", count: 40)
        let parsed = try ParsedSyslog(frame: format.frame(for: record(action: long)))
        #expect(parsed.header[2] == "_______")
        #expect(parsed.header[5] == String(repeating: "x", count: 32))
        #expect(SyslogAuditFormat(hostname: "").hostname == "-")
        #expect(try ParsedSyslog(frame: format.frame(for: record(action: ""))).header[5] == "-")
    }

    @Test("a JSON line carries every field in a fixed order, escaped, and gives back its position")
    func jsonLine() throws {
        let original = record(subject: "いちご \"商事\"\t\\", reason: nil)
        let line = AuditJSONLine.line(for: original)
        #expect(line.hasPrefix("{\"seq\":12,\"hash\":\"bbbb") && line.hasSuffix("\"reason\":null}\n"))
        #expect(line.filter { $0 == "\n" }.count == 1)
        let object = try #require(
            JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["subject"] as? String == original.event.subject)
        #expect(object["at"] as? String == "2026-05-03T03:09:37.123Z")
        #expect(object["reason"] is NSNull)
        #expect(
            AuditJSONLine.position(of: line.dropLast())
                == AuditStreamPosition(sequence: 12, hash: original.hash))
        #expect(AuditJSONLine.position(of: "{\"seq\":12}") == nil)
        let control = AuditJSONLine.line(for: record(reason: "\u{1}\u{2028}"))
        #expect(control.contains("\\u0001") && control.contains("\\u2028"))
    }

    @Test(
        "times are UTC with milliseconds, as the chain hashes them",
        arguments: [
            (Int64(0), "1970-01-01T00:00:00.000Z"), (1_777_777_777_123, "2026-05-03T03:09:37.123Z"),
            (951_782_400_999, "2000-02-29T00:00:00.999Z"), (-1, "1969-12-31T23:59:59.999Z"),
        ])
    func times(millis: Int64, text: String) {
        #expect(AuditTime.text(Date(timeIntervalSince1970: Double(millis) / 1000)) == text)
    }
}

@Suite("Audit stream settings")
struct AuditStreamSettingsTests {
    @Test("destinations: syslog, syslog over TLS, a file; default ports 514 and 6514")
    func destinations() throws {
        #expect(
            try AuditStreamSettings.destination("syslog://siem.bank.example:10514")
                == .syslog(host: "siem.bank.example", port: 10514, tls: false))
        #expect(
            try AuditStreamSettings.destination("syslog://10.0.0.5") == .syslog(host: "10.0.0.5", port: 514, tls: false)
        )
        #expect(
            try AuditStreamSettings.destination("syslog+tls://siem.bank.example")
                == .syslog(host: "siem.bank.example", port: 6514, tls: true))
        #expect(
            try AuditStreamSettings.destination("syslog://[::1]:601") == .syslog(host: "::1", port: 601, tls: false))
        #expect(
            try AuditStreamSettings.destination("file:/var/log/ichigo/audit.jsonl")
                == .file(path: "/var/log/ichigo/audit.jsonl"))
        #expect(try AuditStreamSettings.destination("file:///var/log/a.jsonl") == .file(path: "/var/log/a.jsonl"))
        for wrong in [
            "http://siem:514", "syslog://", "file:relative.jsonl", "file:/var/log/", "syslog://u:p@h:514", "siem:514",
        ] {
            #expect(throws: IchigoError.self, "\(wrong)") { try AuditStreamSettings.destination(wrong) }
        }
    }
}

@Suite("Audit stream progress (a value: no I/O, time as a parameter)")
struct AuditStreamProgressTests {
    let start = ContinuousClock.now
    func at(_ seconds: Double) -> ContinuousClock.Instant { start + .milliseconds(Int64(seconds * 1000)) }
    func position(_ sequence: Int64) -> AuditStreamPosition {
        AuditStreamPosition(sequence: sequence, hash: String(repeating: "\(sequence % 10)", count: 64))
    }

    @Test("a break resends what was delivered within the unread window before it, and no more")
    func rewind() {
        var progress = AuditStreamProgress(position: .start, unreadWindow: .seconds(5))
        progress.delivered(upTo: position(10), at: at(0))
        progress.delivered(upTo: position(20), at: at(8))
        progress.delivered(upTo: position(30), at: at(10))
        #expect(progress.position == position(30))
        #expect(progress.connectionBroke(at: at(11)) == .rewind(to: position(10)))
        #expect(progress.position == position(10))
        // Nothing delivered since: a second break changes nothing.
        #expect(progress.connectionBroke(at: at(12)) == .carryOn)
    }

    @Test("a break long after the last delivery, or on a file (no unread window), keeps the position")
    func noRewind() {
        var progress = AuditStreamProgress(position: .start, unreadWindow: .seconds(5))
        progress.delivered(upTo: position(10), at: at(0))
        #expect(progress.connectionBroke(at: at(6)) == .carryOn)
        #expect(progress.position == position(10))
        var file = AuditStreamProgress(position: .start, unreadWindow: .zero)
        file.delivered(upTo: position(10), at: at(0))
        #expect(file.connectionBroke(at: at(0)) == .carryOn)
        #expect(file.position == position(10))
    }
}

/// A sink that keeps what it is given, and fails or "breaks" on request.
private actor RecordingSink: AuditSink {
    nonisolated let destination = "test sink"
    nonisolated let unreadWindow: Duration
    private(set) var received: [AuditRecord] = []
    private var failures = 0
    private var broken = false

    init(unreadWindow: Duration = .seconds(5)) { self.unreadWindow = unreadWindow }

    func failNext(_ count: Int) { failures = count }
    func breakConnection() { broken = true }

    func storedPosition() async throws -> AuditStreamPosition? { nil }
    func deliver(_ records: [AuditRecord]) async throws {
        if failures > 0 {
            failures -= 1
            throw AuditSinkError(description: "receiver down")
        }
        received += records
    }
    func connectionBroke() async -> Bool {
        defer { broken = false }
        return broken
    }
    func close() async {}
}

@Suite("Audit stream: at least once, in order, no gaps")
struct AuditStreamTests {
    let key = MasterKey.random()
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("audit-stream-\(UUID().uuidString)")

    init() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    var cursor: AuditStreamCursorFile {
        AuditStreamCursorFile(path: directory.appendingPathComponent("audit-stream.cursor").path)
    }

    func repository(records count: Int) async throws -> MemoryRepository {
        let repository = MemoryRepository(chain: AuditChain(masterKey: key))
        for index in 0..<count { try await repository.append(event(index)) }
        return repository
    }

    func event(_ index: Int) -> AuditEvent {
        AuditEvent(
            at: Date(), actor: "api", action: "otp.verify", subject: "user:U\(index)",
            outcome: index % 3 == 0 ? "refused" : "accepted", reason: index % 3 == 0 ? "invalid_code" : nil)
    }

    func stream(_ repository: MemoryRepository, _ sink: any AuditSink, head: SyncedAuditHead? = nil) -> AuditStream {
        AuditStream(
            source: repository, sink: sink, cursor: cursor, syncedHead: head, logger: Logger(label: "test"),
            interval: .milliseconds(10), batchSize: 100)
    }

    /// Passes until the stream stands at `sequence` (at most `limit` passes).
    func drain(_ stream: AuditStream, to sequence: Int64, limit: Int = 100) async {
        for _ in 0..<limit where await stream.position?.sequence != sequence { await stream.pass() }
    }

    /// Every record from 1 to `newest` arrived, and at no point did one arrive before all earlier ones had.
    func expectNoGaps(_ received: [AuditRecord], through newest: Int64) {
        var highest: Int64 = 0
        for record in received {
            #expect(record.sequence <= highest + 1, "record \(record.sequence) arrived before \(highest + 1)")
            highest = max(highest, record.sequence)
        }
        #expect(Set(received.map(\.sequence)) == Set(1...newest))
    }

    @Test("delivers the whole trail in batches, in order, and keeps the cursor at the last record")
    func deliversEverything() async throws {
        let repository = try await repository(records: 250)
        let sink = RecordingSink()
        let stream = stream(repository, sink)
        await drain(stream, to: 250)
        let received = await sink.received
        #expect(received.map(\.sequence) == Array(1...250))
        #expect(received == (try await repository.auditRecords(from: 1, limit: 1000)))
        let last = try #require(received.last)
        #expect(try cursor.read() == AuditStreamPosition(after: last))
        // Caught up: a pass asks again after the interval.
        #expect(await stream.pass() == .milliseconds(10))
    }

    @Test("a receiver that is down: retried with back-off, and what was committed meanwhile arrives with no gap")
    func receiverDown() async throws {
        let repository = try await repository(records: 30)
        // No unread window: only the retries are seen here (the rewind after a break has its own test).
        let sink = RecordingSink(unreadWindow: .zero)
        let stream = stream(repository, sink)
        await drain(stream, to: 30)
        await sink.failNext(3)
        for index in 30..<60 { try await repository.append(event(index)) }
        var delays: [Duration] = []
        for _ in 0..<3 { delays.append(await stream.pass()) }
        #expect(delays == [.milliseconds(20), .milliseconds(40), .milliseconds(80)])
        let stuck = await stream.position?.sequence
        #expect(stuck == 30)
        await drain(stream, to: 60)
        expectNoGaps(await sink.received, through: 60)
        #expect(await sink.received.map(\.sequence) == Array(1...60))
    }

    @Test("a connection that broke right after a delivery: the records it may not have read are sent again")
    func brokenConnection() async throws {
        let repository = try await repository(records: 20)
        let sink = RecordingSink()
        let stream = stream(repository, sink)
        await drain(stream, to: 20)
        await sink.breakConnection()
        for index in 20..<25 { try await repository.append(event(index)) }
        await drain(stream, to: 25)
        let received = await sink.received.map(\.sequence)
        // 1…20, then 1…25 again: sent again from before the recent delivery.
        #expect(received == Array(1...20) + Array(1...25))
    }

    @Test("after a restart the stream resumes after the cursor; a cursor the database does not hold means all again")
    func restart() async throws {
        let repository = try await repository(records: 40)
        let first = RecordingSink()
        await drain(stream(repository, first), to: 40)
        for index in 40..<45 { try await repository.append(event(index)) }
        let second = RecordingSink()
        await drain(stream(repository, second), to: 45)
        #expect(await second.received.map(\.sequence) == Array(41...45))
        // A cursor naming record 45 with another hash (the database was restored from an older copy): from record 1.
        try cursor.write(AuditStreamPosition(sequence: 45, hash: String(repeating: "f", count: 64)))
        let third = RecordingSink()
        await drain(stream(repository, third), to: 45)
        #expect(await third.received.map(\.sequence) == Array(1...45))
    }

    @Test("on SQLite the stream goes no further than the signed head (the newest record synced to disk)")
    func syncedHead() async throws {
        let repository = try await repository(records: 10)
        let chain = AuditChain(masterKey: key)
        let file = try AuditHeadFile(path: directory.appendingPathComponent("audit.head").path, chain: chain)
        let records = try await repository.auditRecords(from: 1, limit: 10)
        file.advance(to: .init(sequence: 6, hash: records[5].hash))
        let sink = RecordingSink()
        let stream = stream(repository, sink, head: SyncedAuditHead(file: file))
        for _ in 0..<3 { await stream.pass() }
        #expect(await sink.received.map(\.sequence) == Array(1...6))
        file.advance(to: .init(sequence: 10, hash: records[9].hash))
        await drain(stream, to: 10)
        #expect(await sink.received.map(\.sequence) == Array(1...10))
    }

    @Test("a JSON Lines file: synced lines, resumed from its last complete line, a cut line removed, rotation followed")
    func jsonLinesFile() async throws {
        let repository = try await repository(records: 12)
        let path = directory.appendingPathComponent("audit.jsonl").path
        await drain(stream(repository, JSONLinesAuditSink(path: path)), to: 12)
        func lines(_ path: String) throws -> [String] {
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        }
        #expect(try lines(path).compactMap { AuditJSONLine.position(of: $0)?.sequence } == Array(1...12))
        // A crash in the middle of a line; the cursor file lost (the file's last line decides).
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data("{\"seq\":13,\"hash\":\"ab".utf8))
        try handle.close()
        try FileManager.default.removeItem(atPath: cursor.path)
        for index in 12..<15 { try await repository.append(event(index)) }
        let sink = JSONLinesAuditSink(path: path)
        #expect(try await sink.storedPosition()?.sequence == 12)
        await drain(stream(repository, sink), to: 15)
        #expect(try lines(path).compactMap { AuditJSONLine.position(of: $0)?.sequence } == Array(1...15))
        #expect(try lines(path).count == 15)
        // Rotation: the file is moved away; the next records start a new file at the same path.
        let rotated = path + ".1"
        try FileManager.default.moveItem(atPath: path, toPath: rotated)
        for index in 15..<18 { try await repository.append(event(index)) }
        let running = stream(repository, sink)
        await drain(running, to: 18)
        #expect(try lines(path).compactMap { AuditJSONLine.position(of: $0)?.sequence } == [16, 17, 18])
        #expect(try lines(rotated).count == 15)
    }

    @Test("a cursor file that is not one is refused, not guessed at")
    func garbledCursor() throws {
        try Data("seq=12\n".utf8).write(to: URL(fileURLWithPath: cursor.path))
        #expect(throws: IchigoError.self) { try cursor.read() }
        try cursor.write(AuditStreamPosition(sequence: 7, hash: String(repeating: "c", count: 64)))
        #expect(try cursor.read() == AuditStreamPosition(sequence: 7, hash: String(repeating: "c", count: 64)))
        #expect(try String(contentsOfFile: cursor.path, encoding: .utf8).hasPrefix("ichigo-audit-stream v1 7 "))
    }
}
