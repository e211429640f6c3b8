"""Shared fixtures for the end-to-end tests: a real `ichigo serve` on 127.0.0.1, stopped by PID."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.environ.get("ICHIGO_BIN", os.path.join(ROOT, ".build", "debug", "ichigo"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data_dir, port, extra_env=None, args=()):
        self.data_dir = data_dir
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        env = dict(os.environ, ICHIGO_DATA_DIRECTORY=data_dir, ICHIGO_HTTP_PORT=str(port),
                   ICHIGO_PASSWORD_SCRYPT_LOG_ROUNDS="10")
        env.update(extra_env or {})
        self.env = env
        self.log = open(os.path.join(data_dir, "server.log"), "w")
        self.process = subprocess.Popen([BINARY, "serve", *args], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.base + "/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError("ichigo serve did not start: " + open(os.path.join(data_dir, "server.log")).read())
        self.api_key = open(os.path.join(data_dir, "api.key")).read().strip()

    def api(self, method, path, body=None, key=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", "Bearer " + (key or self.api_key))
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def log_text(self):
        with open(os.path.join(self.data_dir, "server.log"), errors="replace") as log:
            return log.read()

    def cli(self, *args):
        return subprocess.run([BINARY, *args], env=self.env, capture_output=True, text=True, timeout=60)

    def stop(self):
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


@pytest.fixture
def server():
    data_dir = tempfile.mkdtemp(prefix="ichigo-e2e-")
    instance = Server(data_dir, free_port())
    yield instance
    instance.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.add_argument("--headless=new")
    options.add_argument("--no-sandbox")
    options.add_argument("--disable-dev-shm-usage")
    options.add_argument("--window-size=1100,1400")
    options.add_argument("--lang=ja")
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()
