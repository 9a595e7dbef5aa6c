"""End-to-end authentication policy over real IMAP connections: failure throttling and blocking, equal
replies for unknown users and wrong passwords, the verified-credentials cache as seen in /metrics, and
SIGHUP with a broken config file.

Timing argument for test_unknown_user_costs_a_hash_too: with the default Argon2 parameters (19 MiB,
t=2) one verification takes tens of milliseconds, while a failure that skips the hash replies in well
under a millisecond on loopback, so a factor of 2 between the two medians is generous for a shared
2-core machine yet fails if either path skips Argon2."""
import re
import signal
import socket
import statistics
import time
import urllib.request

WRONG = "not the password"
UNKNOWN = "nobody@example.test"


def set_auth(server, **keys):
    """Adds keys to the generated [auth] table of an initialised, not yet started server."""
    text = server.config.read_text()
    extra = "".join(f"{k} = {v}\n" for k, v in keys.items())
    text, n = re.subn(r"^\[auth\]\n", lambda _m: "[auth]\n" + extra, text, count=1, flags=re.M)
    assert n == 1, "posthorn init --dev should write an [auth] table"
    server.config.write_text(text)


class Imap:
    """A plain-TCP IMAP client that shows the raw tagged reply and times it."""

    def __init__(self, server):
        self.sock = socket.create_connection(("127.0.0.1", server.ports["imap"]), timeout=30)
        self.file = self.sock.makefile("rb")
        self.n = 0
        greeting = self.file.readline()
        assert greeting.startswith(b"* OK"), greeting

    def command(self, text):
        """Sends one command; returns (seconds until the tagged reply, the reply line without its tag)."""
        self.n += 1
        tag = f"t{self.n}".encode()
        start = time.monotonic()
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        while True:
            line = self.file.readline()
            assert line, "connection closed"
            if line.startswith(tag + b" "):
                return time.monotonic() - start, line[len(tag) + 1:].decode().rstrip("\r\n")

    def login(self, user, password):
        return self.command(f'LOGIN {user} "{password}"')

    def close(self):
        self.command("LOGOUT")
        self.file.close()
        self.sock.close()


def login_once(server, user, password):
    c = Imap(server)
    try:
        return c.login(user, password)
    finally:
        c.close()


def metrics(server):
    with urllib.request.urlopen(f"http://127.0.0.1:{server.ports['admin']}/metrics", timeout=10) as r:
        assert r.status == 200
        text = r.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = int(value)
    return values


CACHE_HIT = 'posthorn_credential_cache_total{result="hit"}'
CACHE_MISS = 'posthorn_credential_cache_total{result="miss"}'
IMAP_OK = 'posthorn_auth_success_total{protocol="imap"}'
IMAP_FAIL = 'posthorn_auth_failure_total{protocol="imap"}'


def stop_cleanly(server):
    rc = server.stop()
    assert rc == 0, f"serve exited with {rc}; log:\n{server.log_text()[-4000:]}"


def test_failures_slow_down_then_block(fresh):
    s = fresh
    s.init()
    set_auth(s, throttle_free_failures=1, throttle_base_delay_ms=200, throttle_block_after=3,
             throttle_block_duration=60)
    s.start()
    try:
        c = Imap(s)
        t1, r1 = c.login(s.user, WRONG)
        t2, r2 = c.login(s.user, WRONG)
        t3, r3 = c.login(s.user, WRONG)  # the third failure blocks the IP and the account
        for r in (r1, r2, r3):
            assert r == "NO [AUTHENTICATIONFAILED] Authentication failed"
        # Free failure, then 200 ms, then 400 ms before the reply.
        assert t2 >= 0.19, (t1, t2, t3)
        assert t3 >= 0.38, (t1, t2, t3)
        assert t3 > t1
        # Blocked: even the right password is refused, on this connection and on a new one.
        _, r4 = c.login(s.user, s.password)
        assert r4 == "NO [UNAVAILABLE] Temporary authentication failure, try again later"
        c.close()
        _, r5 = login_once(s, s.user, s.password)
        assert r5 == r4
        log = s.log_text()
        assert f"auth failed user={s.user} ip=127.0.0.1 reason=wrong password delay_ms=0" in log
        assert f"auth failed user={s.user} ip=127.0.0.1 reason=wrong password delay_ms=200" in log
        assert f"auth failed user={s.user} ip=127.0.0.1 reason=wrong password delay_ms=400" in log
        assert f"auth failed user={s.user} ip=127.0.0.1 reason=blocked" in log
        assert "auth ok" not in log
    finally:
        stop_cleanly(s)


def test_unknown_user_and_wrong_password_look_alike(fresh):
    s = fresh
    s.init()
    set_auth(s, throttle_free_failures=1000, throttle_block_after=100000)
    s.start()
    try:
        login_once(s, UNKNOWN, WRONG)  # the first unknown user computes the process's dummy hash
        wrong, unknown, replies = [], [], set()
        for _ in range(15):
            t, r = login_once(s, s.user, WRONG)
            wrong.append(t)
            replies.add(r)
            t, r = login_once(s, UNKNOWN, WRONG)
            unknown.append(t)
            replies.add(r)
        assert replies == {"NO [AUTHENTICATIONFAILED] Authentication failed"}
        w, u = statistics.median(wrong), statistics.median(unknown)
        assert 0.5 <= u / w <= 2.0, f"median wrong password {w * 1e3:.1f} ms, unknown user {u * 1e3:.1f} ms"
        log = s.log_text()
        assert "reason=unknown user delay_ms=0" in log
        assert "reason=wrong password delay_ms=0" in log
    finally:
        stop_cleanly(s)


def test_credential_cache_and_auth_counters(server):
    before = metrics(server)
    assert before[CACHE_HIT] == 0 and before[CACHE_MISS] == 0
    for _ in range(3):
        _, r = login_once(server, server.user, server.password)
        assert r.startswith("OK"), r
    after = metrics(server)
    assert after[CACHE_MISS] == 1  # the first login ran Argon2 ...
    assert after[CACHE_HIT] == 2   # ... the next two were remembered
    assert after[IMAP_OK] - before[IMAP_OK] == 3
    _, r = login_once(server, server.user, WRONG)
    assert r == "NO [AUTHENTICATIONFAILED] Authentication failed"
    last = metrics(server)
    assert last[IMAP_FAIL] - before[IMAP_FAIL] == 1
    assert last[IMAP_OK] == after[IMAP_OK]
    assert last[CACHE_HIT] == 2  # a wrong password is never a hit ...
    assert last[CACHE_MISS] == 2  # ... but it is a lookup that missed


def test_cache_ttl_zero_disables_the_cache(fresh):
    s = fresh
    s.init()
    set_auth(s, cache_ttl=0)
    s.start()
    try:
        for _ in range(3):
            _, r = login_once(s, s.user, s.password)
            assert r.startswith("OK"), r
        m = metrics(s)
        assert m[CACHE_HIT] == 0
        assert m[CACHE_MISS] == 3
        assert m[IMAP_OK] == 3
    finally:
        stop_cleanly(s)


def wait_for_log(server, text, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in server.log_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"log never showed {text!r}:\n{server.log_text()[-2000:]}")


def test_sighup_with_a_config_typo_keeps_serving(fresh):
    s = fresh
    s.init()
    s.start()
    try:
        good = s.config.read_text()
        set_auth(s, cache_tll=5)  # a typo: unknown keys are errors
        s.proc.send_signal(signal.SIGHUP)
        wait_for_log(s, "(keeping the running configuration)")
        assert "cache_tll: unknown key" in s.log_text()
        assert s.proc.poll() is None
        _, r = login_once(s, s.user, s.password)
        assert r.startswith("OK"), r
        # Once fixed, the next SIGHUP reloads.
        s.config.write_text(good)
        s.proc.send_signal(signal.SIGHUP)
        wait_for_log(s, "reload: configuration and certificates reloaded")
        _, r = login_once(s, s.user, s.password)
        assert r.startswith("OK"), r
    finally:
        stop_cleanly(s)
