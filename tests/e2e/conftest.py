"""End-to-end fixtures: the real posthorn binary, a fresh `posthorn init --dev` folder on free ports,
a domain and a user, and `posthorn serve` running in the background. Real clients connect to it.

POSTHORN_BIN names the binary (make e2e sets it to the ASan build)."""
import os
import socket
import ssl
import subprocess
import time
from pathlib import Path

from ports import claim_base

import pytest

BIN = os.environ.get("POSTHORN_BIN", str(Path(__file__).resolve().parents[2] / "build-asan" / "posthorn"))
OFFSETS = {"mx": 25, "submission": 587, "submissions": 465, "imap": 143, "imaps": 993,
           "pop3": 110, "pop3s": 995, "lmtp": 24, "admin": 80}
USER = "demo@example.test"
PASSWORD = "correct horse battery"


def free_port_base():
    """A base N such that every N+offset port is free now and not handed out to another server of
    this process (tests/e2e/ports.py)."""
    return claim_base(OFFSETS.values())


def run_cli(config, *args, input=None, check=True):
    proc = subprocess.run([BIN, "--config", str(config), *args], input=input, capture_output=True,
                          text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"posthorn {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def wait_for_port(port, timeout=30.0, proc=None, log=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            text = log.read_text(errors="replace") if log is not None and log.exists() else ""
            raise RuntimeError(f"serve exited ({proc.returncode}) before port {port} opened:\n{text}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} never opened" + (f":\n{log.read_text(errors='replace')}"
                                                      if log is not None and log.exists() else ""))


def wait_for(predicate, timeout=20.0, what="condition"):
    """Polls `predicate` until it returns something true (returned), or fails after `timeout` s."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Server:
    def __init__(self, root: Path):
        self.root = root
        self.base = free_port_base()
        self.ports = {name: self.base + off for name, off in OFFSETS.items()}
        self.config = root / "posthorn.toml"
        self.cert = root / "tls" / "cert.pem"
        self.user = USER
        self.password = PASSWORD
        self.proc = None
        self.log = root / "serve.log"
        self.metrics_source = None  # the address metric() connects from (a test of per-IP limits sets one)
        self.env = None  # the server's environment (None: this process's)

    def init_folder(self, extra_args=()):
        """`posthorn init --dev` alone: the config, a TLS certificate and an empty data folder."""
        proc = subprocess.run([BIN, "init", "--dir", str(self.root), "--dev", "--port-base", str(self.base),
                               "--hostname", "localhost", *extra_args],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr

    def init(self, extra_args=()):
        self.init_folder(extra_args)
        self.cli("domain", "add", "example.test")
        self.cli("user", "add", USER, "--password-stdin", input=PASSWORD + "\n")

    def cli(self, *args, input=None, check=True):
        return run_cli(self.config, *args, input=input, check=check)

    def start(self):
        self._logf = open(self.log, "ab")
        self.proc = subprocess.Popen([BIN, "--config", str(self.config), "serve"], stdout=self._logf,
                                     stderr=subprocess.STDOUT, env=self.env)
        for name in ("mx", "imap", "pop3", "admin"):
            wait_for_port(self.ports[name], proc=self.proc, log=self.log)

    def stop(self, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self._logf.close()
        rc = self.proc.returncode if self.proc else 0
        self.proc = None
        return rc

    def metric(self, name, **labels):
        """The sum of the samples of `name` in the admin listener's /metrics whose labels include
        `labels` (e.g. metric("posthorn_connections_active", protocol="imap"))."""
        import http.client
        # 503 "too many connections": the per-IP limit still counts connections a test just closed
        # (test_spool closes 100 at once); the server frees them within moments, so ask again.
        deadline = time.time() + 20
        while True:
            conn = http.client.HTTPConnection("127.0.0.1", self.ports["admin"], timeout=10,
                                              source_address=(self.metrics_source, 0) if self.metrics_source else None)
            try:
                conn.request("GET", "/metrics")
                r = conn.getresponse()
                status = r.status
                text = r.read().decode()
            finally:
                conn.close()
            if status != 503 or time.time() > deadline:
                break
            time.sleep(0.1)
        assert status == 200, f"/metrics: {status}"
        want = [f'{k}="{v}"' for k, v in labels.items()]
        total = 0.0
        found = False
        for line in text.splitlines():
            if line.startswith("#") or not (line.startswith(name + "{") or line.startswith(name + " ")):
                continue
            sample, _, value = line.rpartition(" ")
            if all(w in sample for w in want):
                total += float(value)
                found = True
        assert found, f"no {name} {labels} in /metrics"
        return total

    def wait_idle(self, protocol, timeout=20.0):
        """Waits until the server has ended every `protocol` session (none open in /metrics)."""
        wait_for(lambda: self.metric("posthorn_connections_active", protocol=protocol) == 0, timeout=timeout,
                 what=f"every {protocol} session to end")

    def wait_queue_scans(self, n=3, timeout=20.0):
        """Waits until the queue runner has scanned for due entries `n` more times with no delivery
        left running: whatever those scans would do has been done."""
        start = self.metric("posthorn_queue_scans_total")
        wait_for(lambda: self.metric("posthorn_queue_scans_total") >= start + n
                 and self.metric("posthorn_queue_deliveries_active") == 0,
                 timeout=timeout, what=f"{n} more queue scans")

    def log_text(self):
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def ssl_context(self):
        """A client context that trusts this server's self-signed certificate (name: localhost)."""
        ctx = ssl.create_default_context(cafile=str(self.cert))
        ctx.check_hostname = True
        return ctx


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "srv")
    s.init()
    s.start()
    yield s
    rc = s.stop()
    # The server must stop cleanly on SIGTERM; ASan reports would make it exit non-zero.
    assert rc == 0, f"serve exited with {rc}; log:\n{s.log_text()[-4000:]}"


@pytest.fixture
def fresh(tmp_path):
    """An initialised but not started server folder, for CLI tests."""
    s = Server(tmp_path / "srv")
    return s
