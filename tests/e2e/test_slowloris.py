"""Slow senders (slowloris) end to end, issue 28 item 4: with every protocol timeout at 2 s, a client
that sends one byte every 0.5 s (each byte well inside the idle timeout) is told goodbye and
disconnected within the timeout plus a small margin, on SMTP (a command line, DATA, a BDAT chunk),
IMAP (a command line, an APPEND literal) and POP3; while normal clients doing the same commands at
normal speed work. The slow clients run side by side, so the whole file takes a few seconds."""
import imaplib
import poplib
import select
import smtplib
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import PASSWORD, USER, Server

TIMEOUT = 2      # [timeouts] smtp, imap, imap_preauth, pop3
GAP = 0.5        # seconds between two bytes of a slow client
MARGIN = 1.5     # what the server may take beyond the timeout to notice and say goodbye
GIVE_UP = TIMEOUT + MARGIN + 2  # a slow client still connected by then was never cut off


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("slowloris") / "srv")
    s.init()
    with s.config.open("a") as f:
        f.write(f"\n[timeouts]\nsmtp = {TIMEOUT}\nimap = {TIMEOUT}\nimap_preauth = {TIMEOUT}\npop3 = {TIMEOUT}\n"
                "min_data_rate = 500\n")
    s.start()
    yield s
    rc = s.stop()
    assert rc == 0, f"serve exited with {rc}; log:\n{s.log_text()[-4000:]}"


class Slow:
    """A raw client: fast set-up exchanges, then one byte every GAP seconds until the server closes."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def line(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                raise AssertionError(f"closed while waiting for a line; have {self.buf!r}")
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r").decode(errors="replace")

    def cmd(self, text, until=None):
        """Sends a line and returns the reply line (the first starting with `until` when given)."""
        self.sock.sendall(text.encode() + b"\r\n")
        line = self.line()
        while until is not None and not line.startswith(until):
            line = self.line()
        return line

    def trickle(self, payload):
        """Sends `payload` one byte per GAP s, waiting on the socket (not sleeping) in between.
        Returns (seconds from the first byte to the server's close, everything it sent), or
        (None, ...) when it was still connected after GIVE_UP seconds."""
        start = time.monotonic()
        received = self.buf
        i = 0
        while time.monotonic() - start < GIVE_UP:
            if i < len(payload):
                try:
                    self.sock.send(payload[i:i + 1])
                except OSError:
                    return time.monotonic() - start, received
                i += 1
            readable, _, _ = select.select([self.sock], [], [], GAP)
            if readable:
                try:
                    data = self.sock.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    return time.monotonic() - start, received
                received += data
        return None, received

    def close(self):
        self.sock.close()


def smtp_ready(srv, port_name="mx"):
    c = Slow(srv.ports[port_name])
    assert c.line().startswith("220 ")
    assert c.cmd("EHLO client.example", until="250 ").startswith("250 ")
    return c


def slow_smtp_command(srv):
    c = smtp_ready(srv)
    return c.trickle(b"NOOP " + b"x" * 100 + b"\r\n")


def slow_smtp_data(srv):
    c = smtp_ready(srv)
    assert c.cmd("MAIL FROM:<sender@example.org>").startswith("250")
    assert c.cmd(f"RCPT TO:<{USER}>").startswith("250")
    assert c.cmd("DATA").startswith("354")
    # Short lines: each is complete in 1.5 s, inside the per-line deadline; only the rate catches it.
    return c.trickle(b"Subject: slow\r\n\r\n" + b"a\r\n" * 100)


def slow_smtp_bdat(srv):
    c = smtp_ready(srv)
    assert c.cmd("MAIL FROM:<sender@example.org>").startswith("250")
    assert c.cmd(f"RCPT TO:<{USER}>").startswith("250")
    c.sock.sendall(b"BDAT 1000 LAST\r\n")
    return c.trickle(b"b" * 1000)


def slow_imap_command(srv):
    c = Slow(srv.ports["imap"])
    assert c.line().startswith("* OK")
    return c.trickle(b"a1 CAPABILITY" + b" " * 100 + b"\r\n")


def slow_imap_append(srv):
    c = Slow(srv.ports["imap"])
    assert c.line().startswith("* OK")
    assert c.cmd(f'a1 LOGIN {USER} "{PASSWORD}"', until="a1 ").startswith("a1 OK")
    assert c.cmd("a2 APPEND INBOX {1000}").startswith("+")
    return c.trickle(b"c" * 1000)


def slow_pop3_command(srv):
    c = Slow(srv.ports["pop3"])
    assert c.line().startswith("+OK")
    return c.trickle(b"USER " + b"y" * 100 + b"\r\n")


SLOW = {
    "smtp command line": (slow_smtp_command, b"421 4.4.2"),
    "smtp DATA": (slow_smtp_data, b"421 4.4.2"),
    "smtp BDAT chunk": (slow_smtp_bdat, b"421 4.4.2"),
    "imap command line": (slow_imap_command, b"* BYE"),
    "imap APPEND literal": (slow_imap_append, b"* BYE"),
    "pop3 command line": (slow_pop3_command, b"-ERR"),
}


def test_slow_senders_are_cut_off_within_the_timeout(srv):
    """Postfix's smtpd_per_record_deadline and smtpd_min_data_rate, for every protocol: a line must
    be complete within the timeout from its first byte; DATA, BDAT and literals must average
    min_data_rate bytes/s after the timeout as grace."""
    with ThreadPoolExecutor(max_workers=len(SLOW)) as pool:
        futures = {name: pool.submit(fn, srv) for name, (fn, _) in SLOW.items()}
        results = {name: f.result() for name, f in futures.items()}
    for name, (took, received) in results.items():
        assert took is not None, f"{name}: still connected after {GIVE_UP} s (got {received!r})"
        assert took < TIMEOUT + MARGIN, f"{name}: cut off only after {took:.1f} s"
        assert took >= TIMEOUT - 0.5, f"{name}: cut off already after {took:.1f} s"
        assert SLOW[name][1] in received, f"{name}: no goodbye in {received!r}"


def test_normal_clients_doing_the_same_work(srv):
    """The same commands at normal speed: all of them work under the same short timeouts."""
    start = time.monotonic()
    with smtplib.SMTP("localhost", srv.ports["mx"], timeout=10) as smtp:
        smtp.ehlo("client.example")
        assert smtp.sendmail("sender@example.org", [USER], "Subject: fast\r\n\r\n" + "a\r\n" * 20000) == {}
        smtp.mail("sender@example.org")
        smtp.rcpt(USER)
        body = b"Subject: chunked\r\n\r\n" + b"b" * 100000 + b"\r\n"
        smtp.send(b"BDAT %d LAST\r\n" % len(body) + body)
        assert smtp.getreply()[0] == 250
    imap = imaplib.IMAP4("localhost", srv.ports["imap"], timeout=10)
    imap.login(USER, PASSWORD)
    typ, _ = imap.append("INBOX", None, None, b"Subject: appended\r\n\r\n" + b"c" * 100000 + b"\r\n")
    assert typ == "OK"
    typ, data = imap.select("INBOX")
    assert typ == "OK" and int(data[0]) >= 3
    imap.logout()
    pop = poplib.POP3("localhost", srv.ports["pop3"], timeout=10)
    pop.user(USER)
    pop.pass_(PASSWORD)
    assert pop.stat()[0] >= 3
    pop.quit()
    assert time.monotonic() - start < 10
