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


# ---- issue 28 item 1: nobody can lock an account out for everyone ----

def _connect(server, port_name, source):
    sock = socket.create_connection(("127.0.0.1", server.ports[port_name]), timeout=30,
                                    source_address=(source, 0))
    return sock, sock.makefile("rb")


def _login_attempt(server, proto, user, password, source):
    """One fresh connection from `source`, one login in `proto`; returns (seconds, succeeded)."""
    sock, f = _connect(server, {"imap": "imap", "pop3": "pop3", "submission": "submission"}[proto], source)
    try:
        greeting = f.readline()
        assert greeting, f"{proto}: no greeting"
        start = time.monotonic()
        if proto == "imap":
            sock.sendall(f'a LOGIN {user} "{password}"\r\n'.encode())
            while True:
                line = f.readline()
                assert line, "imap: connection closed"
                if line.startswith(b"a "):
                    ok = line.startswith(b"a OK")
                    break
            sock.sendall(b"b LOGOUT\r\n")
        elif proto == "pop3":
            sock.sendall(f"USER {user}\r\n".encode())
            assert f.readline().startswith(b"+OK")
            sock.sendall(f"PASS {password}\r\n".encode())
            ok = f.readline().startswith(b"+OK")
            sock.sendall(b"QUIT\r\n")
            # RFC 1939 gives one session the maildrop at a time: wait for the server to end this one
            # (its close) before the next POP3 login, or that one meets the lock, not the throttle.
            while f.readline():
                pass
        else:
            sock.sendall(b"EHLO client.test\r\n")
            while True:
                line = f.readline()
                assert line, "smtp: connection closed"
                if line[3:4] == b" ":
                    break
            import base64
            token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
            sock.sendall(f"AUTH PLAIN {token}\r\n".encode())
            reply = f.readline()
            ok = reply.startswith(b"235")
            sock.sendall(b"QUIT\r\n")
        return time.monotonic() - start, ok
    finally:
        f.close()
        sock.close()


def test_failures_from_one_ip_never_lock_the_account_for_another(fresh):
    """200 wrong passwords for the user from 127.0.0.2 (IMAP, POP3 and submission in turn) while
    127.0.0.1 logs in with the right one throughout: every one of those logins succeeds, each within
    1 s. Only the attacking IP (and its pair with the account) is blocked [issue 28]. The delays are
    shortened so the attack takes seconds, not the default 8 s per try; the block thresholds are the
    defaults."""
    import threading
    s = fresh
    s.init()
    set_auth(s, throttle_base_delay_ms=5, throttle_max_delay_ms=20)
    s.start()
    protos = ("imap", "pop3", "submission")
    attacker_results = []
    stop = threading.Event()
    under_way = threading.Event()

    def attack():
        try:
            for i in range(200):
                attacker_results.append(_login_attempt(s, protos[i % 3], s.user, f"guess {i}", "127.0.0.2")[1])
                if i == 19:
                    under_way.set()
        finally:
            under_way.set()
            stop.set()

    try:
        t = threading.Thread(target=attack)
        t.start()
        # The first 20 tries (past every block threshold of one IP) come before the first correct
        # login, so a login in between cannot wipe the account's record.
        under_way.wait(timeout=120)
        good = []
        i = 0
        while not stop.is_set() or i < 6:
            proto = protos[i % 3]
            seconds, ok = _login_attempt(s, proto, s.user, s.password, "127.0.0.1")
            good.append((proto, seconds, ok))
            i += 1
        t.join()
        assert len(attacker_results) == 200 and not any(attacker_results)
        failed = [g for g in good if not g[2]]
        assert not failed, f"{len(failed)} of {len(good)} correct logins refused: {failed[:5]}"
        slow = [g for g in good if g[1] >= 1.0]
        assert not slow, f"correct logins slower than 1 s: {slow[:5]}"
        log = s.log_text()
        # The attacker was throttled and then blocked; its target stayed open to others.
        assert "ip=127.0.0.2 reason=blocked" in log
        assert f"auth ok user={s.user}" in log
        # After the attack the attacking IP stays blocked even with the right password.
        _, ok = _login_attempt(s, "imap", s.user, s.password, "127.0.0.2")
        assert not ok
    finally:
        stop_cleanly(s)


def test_sasl_mechanisms_per_listener(fresh):
    """`sasl_mechanisms` on a [[listener]] (issue 28 item 6): only the listed mechanisms are offered
    and accepted there, in that order; other listeners keep their defaults (submission without
    SCRAM-SHA-256-PLUS, IMAP and POP3 with it)."""
    import imaplib
    import poplib
    import smtplib
    s = fresh
    s.init()
    text = s.config.read_text()
    text = text.replace('name = "imaps"\n', 'name = "imaps"\nsasl_mechanisms = ["plain", "SCRAM-SHA-256"]\n', 1)
    text = text.replace('name = "submissions"\n', 'name = "submissions"\nsasl_mechanisms = ["SCRAM-SHA-256-PLUS", "PLAIN"]\n', 1)
    s.config.write_text(text)
    s.start()
    try:
        c = imaplib.IMAP4_SSL("localhost", s.ports["imaps"], ssl_context=s.ssl_context())
        auths = [cap for cap in c.capabilities if cap.startswith("AUTH=")]
        assert auths == ["AUTH=PLAIN", "AUTH=SCRAM-SHA-256"], c.capabilities
        tag = c._new_tag()
        c.send(tag + b" AUTHENTICATE LOGIN\r\n")
        reply = c.readline()
        assert reply.startswith(tag + b" NO") or reply.startswith(tag + b" BAD"), reply
        c.logout()
        c = imaplib.IMAP4_SSL("localhost", s.ports["imaps"], ssl_context=s.ssl_context())
        typ, _ = c.authenticate("PLAIN", lambda _: f"\0{s.user}\0{s.password}".encode())
        assert typ == "OK"
        c.logout()
        # Defaults elsewhere: IMAPS-less IMAP with -PLUS after STARTTLS, submission without it.
        c = imaplib.IMAP4("localhost", s.ports["imap"])
        c.starttls(ssl_context=s.ssl_context())
        assert "AUTH=SCRAM-SHA-256-PLUS" in c.capabilities
        c.logout()
        with smtplib.SMTP("localhost", s.ports["submission"], timeout=30) as smtp:
            smtp.starttls(context=s.ssl_context())
            smtp.ehlo("client.test")
            assert smtp.esmtp_features["auth"].split() == ["SCRAM-SHA-256", "PLAIN", "LOGIN"]
        with smtplib.SMTP_SSL("localhost", s.ports["submissions"], timeout=30, context=s.ssl_context()) as smtp:
            smtp.ehlo("client.test")
            assert smtp.esmtp_features["auth"].split() == ["SCRAM-SHA-256-PLUS", "PLAIN"]
            code, _ = smtp.docmd("AUTH", "LOGIN")
            assert code == 504
        pop = poplib.POP3_SSL("localhost", s.ports["pop3s"], context=s.ssl_context())
        assert pop.capa()["SASL"][0] == "SCRAM-SHA-256-PLUS"
        pop.quit()
    finally:
        stop_cleanly(s)
