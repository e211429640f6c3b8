"""Key rotation while serving (issue 26): `ichigo keys rotate` makes a new key version, the running servers start
sealing under it within seconds and re-seal every stored seed in small batches in the background.

- 100,000 seeds re-sealed under a server that verifies codes all the while: every verification is accepted (each is
  a fresh user's current code, so none would be refused anyway), every seed opens afterwards under the new version,
  and the audit trail (records signed before and after) verifies.
- `kill -9` of the server in the middle of a re-sealing: no seed is lost or half-written (each batch is one
  transaction), a restart finishes the job, every seed opens.
- Two instances on one PostgreSQL re-seal together: each seed is re-sealed exactly once (the instances' counters add up
  to the number of seeds), verifications on both keep being accepted.
"""
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest

from conftest import BINARY, Server, free_port

SEEDS = 100_000


@pytest.fixture(scope="module")
def seeded():
    """A data directory with 100,000 customers, each with an active software token (made once for the module)."""
    directory = tempfile.mkdtemp(prefix="ichigo-e2e-keys-")
    data = os.path.join(directory, "data")
    result = subprocess.run([BINARY, "bench-seed", "--users", str(SEEDS), "--out", os.path.join(directory, "seeds.txt")],
                            env=dict(os.environ, ICHIGO_DATA_DIRECTORY=data), capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    seeds = [line.split() for line in open(os.path.join(directory, "seeds.txt"))]
    assert len(seeds) == SEEDS
    yield data, seeds
    shutil.rmtree(directory, ignore_errors=True)


def copy_of(data, tmp_path):
    target = str(tmp_path / "data")
    shutil.copytree(data, target)
    return target


def ichigo(data, *args, env=None, timeout=600):
    return subprocess.run([BINARY, *args], env=dict(os.environ, ICHIGO_DATA_DIRECTORY=data, **(env or {})),
                          capture_output=True, text=True, timeout=timeout)


def counts(data):
    db = sqlite3.connect(os.path.join(data, "ichigo.sqlite"), timeout=30)
    try:
        return dict(db.execute("SELECT seed_key_version, COUNT(*) FROM tokens GROUP BY seed_key_version").fetchall())
    finally:
        db.close()


def metric(server, name):
    request = urllib.request.Request(server.base + "/metrics", headers={"Authorization": "Bearer " + server.api_key})
    text = urllib.request.urlopen(request, timeout=10).read().decode()
    match = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


class Load:
    """Verifies fresh users' current codes on `servers` from 4 threads until stopped; keeps every answer."""

    def __init__(self, servers, users):
        self.servers = servers
        self.users = iter(users)
        self.lock = threading.Lock()
        self.answers = []
        self.stopping = threading.Event()
        self.pool = ThreadPoolExecutor(4)
        self.futures = [self.pool.submit(self.run, index) for index in range(4)]

    def run(self, index):
        server = self.servers[index % len(self.servers)]
        while not self.stopping.is_set():
            with self.lock:
                user = next(self.users, None)
            if user is None:
                return
            status, body = server.api("POST", f"/api/v1/users/{user[0]}/verify",
                                      {"code": pyotp.TOTP(user[1], interval=60).now()})
            with self.lock:
                self.answers.append((time.time(), status, body.get("result"), body.get("error")))

    def count(self):
        with self.lock:
            return len(self.answers)

    def stop(self):
        self.stopping.set()
        for future in self.futures:
            future.result()
        self.pool.shutdown()
        return self.answers


def test_rotation_of_100000_seeds_while_verifying(seeded, tmp_path):
    data = copy_of(seeded[0], tmp_path)
    users = seeded[1]
    server = Server(data, free_port(), extra_env={"ICHIGO_KEYS_ACTIVATION_DELAY_MS": "2000"})
    load = None
    try:
        load = Load([server], users[:40_000])
        time.sleep(3)
        before = load.count()
        started = time.time()
        result = ichigo(data, "keys", "rotate", "--wait", env={"ICHIGO_KEYS_ACTIVATION_DELAY_MS": "2000"})
        took = time.time() - started
        during = load.count() - before
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"{SEEDS} of {SEEDS} seeds under key version 2" in result.stdout, result.stdout
        time.sleep(1)
        answers = load.stop()
        load = None
        resealed = metric(server, "ichigo_keys_resealed_total")
    finally:
        if load:
            load.stop()
        server.stop()
    refused = [a for a in answers if a[1] != 200 or a[2] != "accepted"]
    assert not refused, refused[:5]
    assert during > 0, "verifications went on during the rotation"
    assert resealed == SEEDS, resealed
    assert counts(data) == {2: SEEDS}
    print(f"\n100,000 seeds re-sealed in {took:.1f} s (rotate --wait, 2 s activation delay); "
          f"{before / 3:.0f} verifications/s before, {during / took:.0f}/s during; {len(answers)} verifications, "
          f"none refused")
    result = ichigo(data, "keys", "check")
    assert result.returncode == 0 and f"{SEEDS} seed(s) open (version 2: {SEEDS}); 0 do not" in result.stdout, result
    result = ichigo(data, "audit", "verify")
    assert result.returncode == 0 and "audit trail intact" in result.stdout, result.stdout + result.stderr
    status = ichigo(data, "keys", "status").stdout
    assert re.search(r"1\s+retired\s+0", status) and re.search(rf"2\s+current\s+{SEEDS}", status), status


def test_kill_9_in_the_middle_of_a_rotation(seeded, tmp_path):
    data = copy_of(seeded[0], tmp_path)
    slow = {"ICHIGO_KEYS_ACTIVATION_DELAY_MS": "1000", "ICHIGO_KEYS_RESEAL_BATCH": "200",
            "ICHIGO_KEYS_RESEAL_PAUSE_MS": "30"}
    server = Server(data, free_port(), extra_env=slow)
    try:
        result = ichigo(data, "keys", "rotate", env=slow)
        assert result.returncode == 0, result.stderr
        deadline = time.time() + 120
        while time.time() < deadline:
            done = counts(data).get(2, 0)
            if done >= 10_000:
                break
            time.sleep(0.2)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
    finally:
        server.stop()
    middle = counts(data)
    assert sum(middle.values()) == SEEDS and 0 < middle.get(2, 0) < SEEDS, middle
    # The half-done rotation: every seed opens with the versions it names, none half-written.
    result = ichigo(data, "keys", "check")
    assert result.returncode == 0 and f"{SEEDS} seed(s) open" in result.stdout and "0 do not" in result.stdout, result
    server = Server(data, free_port())
    try:
        result = ichigo(data, "keys", "status", "--wait", timeout=300)
        assert result.returncode == 0 and f"{SEEDS} of {SEEDS} seeds under key version 2" in result.stdout, result
        ok = server.api("POST", f"/api/v1/users/{seeded[1][7][0]}/verify",
                        {"code": pyotp.TOTP(seeded[1][7][1], interval=60).now()})
        assert ok[0] == 200 and ok[1].get("result") == "accepted", ok
    finally:
        server.stop()
    print(f"\nkilled with {middle.get(2, 0)} of {SEEDS} seeds re-sealed; the restart finished the rest")
    assert counts(data) == {2: SEEDS}
    result = ichigo(data, "keys", "check")
    assert result.returncode == 0 and f"{SEEDS} seed(s) open (version 2: {SEEDS}); 0 do not" in result.stdout, result
    result = ichigo(data, "audit", "verify")
    assert result.returncode == 0 and "audit trail intact" in result.stdout, result.stdout + result.stderr


PG_URL = os.environ.get("ICHIGO_TEST_POSTGRES_URL")


@pytest.mark.skipif(not PG_URL, reason="ICHIGO_TEST_POSTGRES_URL is not set: run under scripts/with-postgres")
def test_two_instances_on_postgresql_reseal_each_seed_once(tmp_path):
    from test_postgres import psql
    import urllib.parse
    import uuid
    name = "ichigo_e2e_keys_" + uuid.uuid4().hex
    psql(PG_URL, f"CREATE DATABASE {name}")
    url = urllib.parse.urlunsplit(urllib.parse.urlsplit(PG_URL)._replace(path="/" + name))
    users = 10_000
    dirs = [str(tmp_path / "a"), str(tmp_path / "b")]
    servers = []
    load = None
    try:
        env = {"ICHIGO_DATABASE_URL": url}
        result = ichigo(dirs[0], "bench-seed", "--users", str(users), "--out", str(tmp_path / "seeds.txt"), env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        seeds = [line.split() for line in open(tmp_path / "seeds.txt")]
        os.makedirs(dirs[1])
        for file in ("master.key", "api.key"):
            shutil.copy(os.path.join(dirs[0], file), os.path.join(dirs[1], file))
        slow = {"ICHIGO_KEYS_ACTIVATION_DELAY_MS": "2000", "ICHIGO_KEYS_RESEAL_BATCH": "250",
                "ICHIGO_KEYS_RESEAL_PAUSE_MS": "10"}
        for directory in dirs:
            servers.append(Server(directory, free_port(), extra_env=slow, args=("--database", url)))
        load = Load(servers, seeds[:5_000])
        result = ichigo(dirs[0], "keys", "rotate", "--wait", env=dict(env, **slow))
        assert result.returncode == 0 and f"{users} of {users} seeds under key version 2" in result.stdout, result
        answers = load.stop()
        load = None
        split = [metric(server, "ichigo_keys_resealed_total") for server in servers]
    finally:
        if load:
            load.stop()
        for server in servers:
            server.stop()
    print(f"\ntwo instances re-sealed {split[0]:.0f} + {split[1]:.0f} of {users} seeds; {len(answers)} verifications")
    assert sum(split) == users, split
    refused = [a for a in answers if a[1] != 200 or a[2] != "accepted"]
    assert not refused, refused[:5]
    try:
        result = ichigo(dirs[0], "keys", "check", env={"ICHIGO_DATABASE_URL": url})
        assert result.returncode == 0 and f"{users} seed(s) open (version 2: {users}); 0 do not" in result.stdout, result
        result = ichigo(dirs[0], "audit", "verify", env={"ICHIGO_DATABASE_URL": url})
        assert result.returncode == 0 and "audit trail intact" in result.stdout, result.stdout + result.stderr
    finally:
        psql(PG_URL, f"DROP DATABASE {name} WITH (FORCE)")
