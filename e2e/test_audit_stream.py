"""The audit trail leaves the machine: `audit.stream` to a real rsyslog (imtcp on 127.0.0.1, RFC 5424 with octet
counting, written to a file by a template that keeps the structured data), and to a JSON Lines file.

At least once with no gaps: records committed while the receiver is down, and across a restart of Ichigo in the
meantime, arrive once it is back; each arrives as the database holds it (sequence number, hash, previous hash and every
field), and a `kill -9` in the middle of a load leaves no gap either.
"""
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.request

import pyotp
import pytest

from conftest import BINARY, Server, free_port

pytestmark = pytest.mark.skipif(not shutil.which("rsyslogd"), reason="rsyslog is not installed")

RSYSLOG_CONF = """
global(workDirectory="{dir}" maxMessageSize="64k")
module(load="imtcp")
template(name="siem" type="list" option.jsonf="on") {{
  property(outname="pri" name="pri" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}}
input(type="imtcp" port="{port}" address="127.0.0.1" ruleset="siem")
ruleset(name="siem") {{
  action(type="omfile" file="{out}" template="siem")
}}
"""


class Rsyslog:
    """An rsyslogd of the test's own, in a temporary directory; started and stopped by PID."""

    def __init__(self, directory, port):
        self.directory = directory
        self.port = port
        self.out = os.path.join(directory, "siem.jsonl")
        self.conf = os.path.join(directory, "rsyslog.conf")
        self.pidfile = os.path.join(directory, "rsyslog.pid")
        with open(self.conf, "w") as conf:
            conf.write(RSYSLOG_CONF.format(dir=directory, port=port, out=self.out))
        self.process = None

    def start(self):
        self.process = subprocess.Popen(["rsyslogd", "-n", "-f", self.conf, "-i", self.pidfile],
                                        stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.directory,
                                                                                            "rsyslog.log"), "a"))
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("rsyslogd did not listen on port %d" % self.port)

    def stop(self):
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)

    def messages(self):
        if not os.path.exists(self.out):
            return []
        with open(self.out, encoding="utf-8") as out:
            return [json.loads(line) for line in out if line.strip()]


def structured_data(text):
    """Parses one SD-ELEMENT `[id name="value" …]`, undoing the escapes of RFC 5424 §6.3.3."""
    match = re.fullmatch(r'\[(\S+)((?: [^=\s\]"]+="(?:[^"\\\]]|\\.)*")*)\]', text)
    assert match, f"not one SD-ELEMENT: {text}"
    params = {name: re.sub(r'\\(["\\\]])', r"\1", value)
              for name, value in re.findall(r' ([^=\s\]"]+)="((?:[^"\\\]]|\\.)*)"', match.group(2))}
    return match.group(1), params


def database_records(data_dir):
    database = sqlite3.connect(os.path.join(data_dir, "ichigo.sqlite"))
    rows = database.execute("SELECT seq, at, actor, action, subject, outcome, reason, prev_hash, hash FROM audit_log "
                            "ORDER BY seq").fetchall()
    database.close()
    return {row[0]: row for row in rows}


def utc_millis(text):
    """`2026-05-03T03:09:37.123Z` → milliseconds since 1970."""
    from datetime import datetime, timezone
    stamp = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return round(stamp.timestamp() * 1000)


def seed(data_dir, users):
    env = dict(os.environ, ICHIGO_DATA_DIRECTORY=data_dir, ICHIGO_PASSWORD_SCRYPT_LOG_ROUNDS="10")
    out = os.path.join(data_dir, "seeds.txt")
    result = subprocess.run([BINARY, "bench-seed", "--users", str(users), "--out", out], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return [tuple(line.split()) for line in open(out)]


def verify_some(server, seeds, wrong_every=4):
    """One verification per user: the right code, or (every `wrong_every`th) a wrong one, refused."""
    for index, (user, secret) in enumerate(seeds):
        code = pyotp.TOTP(secret, interval=60).now()
        if index % wrong_every == 0:
            code = f"{(int(code) + 1) % 1000000:06d}"
        status, _ = server.api("POST", f"/api/v1/users/{user}/verify", {"code": code})
        assert status in (200, 403), status


def metric(server, name):
    request = urllib.request.Request(server.base + "/metrics", headers={"Authorization": "Bearer " + server.api_key})
    text = urllib.request.urlopen(request, timeout=10).read().decode()
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.split()[-1])
    return None


def wait_until(condition, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def received_through(receiver, newest):
    return {int(structured_data(m["sd"])[1]["seq"]) for m in receiver.messages()} >= set(range(1, newest + 1))


def test_rsyslog_gets_every_record_across_an_outage_and_a_restart(tmp_path):
    receiver = Rsyslog(str(tmp_path), free_port())
    data = str(tmp_path / "data")
    os.makedirs(data)
    seeds = seed(data, 60)
    receiver.start()
    env = {"ICHIGO_AUDIT_STREAM": f"syslog://127.0.0.1:{receiver.port}", "ICHIGO_AUDIT_STREAM_HOSTNAME": "ib-test-1"}
    server = Server(data, free_port(), extra_env=env)
    try:
        verify_some(server, seeds[:20])
        newest = max(database_records(data))
        assert wait_until(lambda: received_through(receiver, newest), 15), "the receiver did not get the trail"
        assert metric(server, "ichigo_audit_stream_lag") == 0
        assert metric(server, "ichigo_audit_stream_sent_total") >= newest

        # The receiver goes down; verifications go on, and are answered as fast as before.
        receiver.stop()
        started = time.monotonic()
        verify_some(server, seeds[20:40])
        assert time.monotonic() - started < 20
        # Behind by what was committed since, at least (and by what is sent again: the seconds before the break).
        behind = max(database_records(data)) - newest
        assert behind >= 20
        assert wait_until(lambda: metric(server, "ichigo_audit_stream_lag") >= behind, 10), \
            metric(server, "ichigo_audit_stream_lag")
        assert wait_until(lambda: metric(server, "ichigo_audit_stream_failures_total") >= 2, 10)
        # Ichigo restarts while the receiver is still down.
        server.stop()
        log = server.log_text()
        assert log.count("does not take records; retrying with back-off") == 1, "one line per episode"
        server = Server(data, free_port(), extra_env=env)
        verify_some(server, seeds[40:60])
        receiver.start()
        newest = max(database_records(data))
        assert wait_until(lambda: received_through(receiver, newest), 40), "records from the outage did not arrive"
        assert wait_until(lambda: metric(server, "ichigo_audit_stream_lag") == 0, 10)
        assert "takes records again" in server.log_text()
    finally:
        server.stop()
        receiver.stop()

    records = database_records(data)
    newest = max(records)
    seen = {}
    for message in receiver.messages():
        sd_id, params = structured_data(message["sd"])
        assert sd_id == "ichigo@32473"
        seq = int(params["seq"])
        row = records[seq]
        # A record sent twice is the same record (the receiver de-duplicates by seq).
        assert seen.setdefault(seq, params) == params, f"record {seq} arrived twice with different contents"
        assert (params["hash"], params["prev"]) == (row[8], row[7])
        assert (params["actor"], params["action"], params["subject"], params["outcome"]) == row[2:6]
        assert params.get("reason") == row[6]
        assert utc_millis(params["at"]) == row[1] and message["timestamp"] == params["at"]
        assert (message["app"], message["procid"], message["msgid"], message["hostname"]) == \
            ("ichigo", "-", row[3], "ib-test-1")
        # authpriv (10): refusals are warnings (4), everything else notices (5).
        assert int(message["pri"]) == 10 * 8 + (4 if row[5] == "refused" else 5), message
        assert message["msg"].startswith("\ufeff#%d %s by %s" % (seq, row[3], row[2])), message["msg"]
    assert set(seen) == set(range(1, newest + 1)), "a gap in the sequence numbers"
    # The chain as received: each record names the one before it.
    for seq in range(2, newest + 1):
        assert seen[seq]["prev"] == seen[seq - 1]["hash"]
    assert any(params["outcome"] == "refused" for params in seen.values())
    cursor = open(os.path.join(data, "audit-stream.cursor")).read().split()
    assert cursor[:3] == ["ichigo-audit-stream", "v1", str(newest)] and cursor[3] == records[newest][8]


def test_json_lines_file_survives_kill_9_under_load(tmp_path):
    data = str(tmp_path / "data")
    os.makedirs(data)
    seeds = seed(data, 400)
    out = str(tmp_path / "audit.jsonl")
    env = {"ICHIGO_AUDIT_STREAM": f"file:{out}"}
    server = Server(data, free_port(), extra_env=env)
    try:
        stop = threading.Event()
        pending = list(seeds)
        answered = []

        def load():
            while not stop.is_set() and pending:
                user, secret = pending.pop()
                try:
                    answered.append(server.api("POST", f"/api/v1/users/{user}/verify",
                                               {"code": pyotp.TOTP(secret, interval=60).now()})[0])
                except OSError:
                    return

        threads = [threading.Thread(target=load) for _ in range(4)]
        for thread in threads:
            thread.start()
        assert wait_until(lambda: len(answered) >= 60, 30)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
        stop.set()
        for thread in threads:
            thread.join()
        assert pending, "the load was over before the kill"
        server.stop()
        server = Server(data, free_port(), extra_env=env)
        verify_some(server, pending[:10])
        newest = max(database_records(data))
        assert wait_until(lambda: os.path.exists(out) and open(out, "rb").read().endswith(b"\n") and
                          max(json.loads(line)["seq"] for line in open(out)) == newest, 15)
    finally:
        server.stop()
    records = database_records(data)
    lines = [json.loads(line) for line in open(out, encoding="utf-8")]
    assert {line["seq"] for line in lines} == set(range(1, max(records) + 1))
    for line in lines:
        row = records[line["seq"]]
        assert (line["hash"], line["prev"], line["actor"], line["action"], line["subject"], line["outcome"],
                line["reason"]) == (row[8], row[7], row[2], row[3], row[4], row[5], row[6])
        assert utc_millis(line["at"]) == row[1]


class TLSFrameReceiver:
    """A syslog-over-TLS receiver (RFC 5425) written here: Python's ssl module, octet-counted frames read byte-exactly
    (RFC 6587 §3.4.1)."""

    def __init__(self, certificate, key):
        import ssl
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certificate, key)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.port = self.listener.getsockname()[1]
        self.frames = []
        self.handshake_failures = 0
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.read, args=(connection,), daemon=True).start()

    def read(self, connection):
        import ssl
        try:
            stream = self.context.wrap_socket(connection, server_side=True)
        except (ssl.SSLError, OSError):
            self.handshake_failures += 1
            return
        buffer = b""
        while True:
            try:
                chunk = stream.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b" " in buffer:
                length, _, rest = buffer.partition(b" ")
                assert length.isdigit(), f"not an octet count: {length[:20]!r}"
                if len(rest) < int(length):
                    break
                self.frames.append(rest[:int(length)])
                buffer = rest[int(length):]

    def close(self):
        self.listener.close()


def parse_rfc5424(frame):
    """(PRI, header fields, SD-ID, params, MSG) of one SYSLOG-MSG."""
    text = frame.decode("utf-8")
    header = re.match(r"<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) ", text)
    assert header, text
    rest = text[header.end():]
    index, quoted = 1, False
    while True:
        character = rest[index]
        if quoted and character == "\\":
            index += 2
            continue
        if character == '"':
            quoted = not quoted
        elif character == "]" and not quoted:
            break
        index += 1
    sd_id, params = structured_data(rest[:index + 1])
    assert rest[index + 1] == " "
    return int(header.group(1)), header.groups()[1:], sd_id, params, rest[index + 2:]


def certificates(directory, name):
    """A CA and a certificate for localhost / 127.0.0.1 signed by it, made with openssl."""
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}-ca.key", "-out", f"{name}-ca.pem",
            "-days", "1", "-subj", f"/CN={name} test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj",
            "/CN=localhost")
    with open(os.path.join(directory, f"{name}.ext"), "w") as ext:
        ext.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{name}-ca.pem", "-CAkey", f"{name}-ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "1", "-extfile", f"{name}.ext")
    return tuple(os.path.join(directory, f) for f in (f"{name}-ca.pem", f"{name}.pem", f"{name}.key"))


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl is not installed")
def test_syslog_over_tls_checks_the_receivers_certificate(tmp_path):
    ca, certificate, key = certificates(str(tmp_path), "siem")
    other_ca, _, _ = certificates(str(tmp_path), "other")
    receiver = TLSFrameReceiver(certificate, key)
    data = str(tmp_path / "data")
    os.makedirs(data)
    seeds = seed(data, 10)
    env = {"ICHIGO_AUDIT_STREAM": f"syslog+tls://localhost:{receiver.port}", "ICHIGO_AUDIT_TLS_CA_FILE": ca,
           "ICHIGO_AUDIT_STREAM_FACILITY": "local4"}
    server = Server(data, free_port(), extra_env=env)
    try:
        verify_some(server, seeds[:5])
        newest = max(database_records(data))
        assert wait_until(lambda: {int(parse_rfc5424(f)[3]["seq"]) for f in receiver.frames} >=
                          set(range(1, newest + 1)), 15), "the TLS receiver did not get the trail"
    finally:
        server.stop()
    records = database_records(data)
    for frame in receiver.frames:
        priority, header, sd_id, params, message = parse_rfc5424(frame)
        row = records[int(params["seq"])]
        assert priority == 20 * 8 + (4 if row[5] == "refused" else 5)
        assert header[2:5] == ("ichigo", "-", row[3]) and sd_id == "ichigo@32473"
        assert (params["hash"], params["prev"], params["subject"]) == (row[8], row[7], row[4])
        assert message.startswith("\ufeff#" + params["seq"] + " ")

    # A receiver whose certificate does not chain to the configured CA gets nothing.
    delivered = len(receiver.frames)
    env["ICHIGO_AUDIT_TLS_CA_FILE"] = other_ca
    server = Server(data, free_port(), extra_env=env)
    try:
        verify_some(server, seeds[5:])
        assert wait_until(lambda: receiver.handshake_failures >= 1, 10)
        time.sleep(1)
        assert len(receiver.frames) == delivered
        assert wait_until(lambda: server.log_text().count("does not take records; retrying with back-off") == 1, 5)
        assert "certificate" in server.log_text().lower()
    finally:
        server.stop()
        receiver.close()
