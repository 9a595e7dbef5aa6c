"""Outbound delivery end to end: the real binary's queue runner, a private unbound on 127.0.0.1
serving MX records for the test domains, and aiosmtpd receivers (Debian python3-aiosmtpd, a
third-party SMTP server) standing in for the remote MX hosts. MX targets cannot carry a port, so
[delivery] port points every delivery at the receivers' port; destinations differ by loopback
address (127.0.0.1 up, 127.0.0.2 down until a test starts it, 127.0.0.3 always down).

(a) a submitted message arrives byte for byte; (b) a 5xx gives exactly one bounce in the sender's
INBOX, read over IMAP; (c) a destination that is down is retried and gets the message when it
comes back; (d) expiry gives one bounce; (e) a bounce is never bounced."""
import email
import imaplib
import json
import smtplib

import pytest
from aiosmtpd.controller import Controller

from conftest import PASSWORD, USER, Server, wait_for
from localdns import Unbound, free_port

HOST = "localhost"


class Receiver:
    """An aiosmtpd receiver on host:port. RCPT to an address starting with "nobody" gets 550."""

    def __init__(self, host, port):
        self.messages = []  # {"from", "to", "data"}
        self.refused = []   # (from, rcpt)
        receiver = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                if address.startswith("nobody"):
                    receiver.refused.append((envelope.mail_from, address))
                    return "550 5.1.1 <%s>: no such user here" % address
                envelope.rcpt_tos.append(address)
                return "250 2.1.5 OK"

            async def handle_DATA(self, server, session, envelope):
                receiver.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                          "data": envelope.original_content})
                return "250 2.0.0 accepted"

        self.controller = Controller(Handler(), hostname=host, port=port, decode_data=False)
        self.controller.start()

    def stop(self):
        self.controller.stop()


RECORDS = ["remote.test. MX 10 mx.remote.test.", "mx.remote.test. A 127.0.0.1",
           "later.test. MX 10 mx.later.test.", "mx.later.test. A 127.0.0.2",
           "dead.test. MX 10 mx.dead.test.", "mx.dead.test. A 127.0.0.3"]


@pytest.fixture(scope="module")
def dns():
    d = Unbound(RECORDS)
    yield d
    d.stop()


@pytest.fixture
def mx_port():
    return free_port(hosts=("127.0.0.1", "127.0.0.2", "127.0.0.3"))


@pytest.fixture
def receiver(mx_port):
    r = Receiver("127.0.0.1", mx_port)
    yield r
    r.stop()


def outbound_server(root, dns, mx_port, lifetime=3600):
    s = Server(root)
    s.init()
    with s.config.open("a") as f:
        f.write(f'\n[dns]\nresolver = "127.0.0.1:{dns.port}"\ntimeout = 5\n'
                f"[delivery]\nport = {mx_port}\nipv6 = false\nconnect_timeout = 2\n"
                f"retry_min = 1\nretry_max = 1\nlifetime = {lifetime}\nconnection_idle = 0\n")
    s.cli("alias", "add", "fwd@example.test", "nobody-fwd@remote.test")
    s.start()
    return s


@pytest.fixture
def srv(tmp_path, dns, mx_port, receiver):
    s = outbound_server(tmp_path / "srv", dns, mx_port)
    yield s
    rc = s.stop()
    assert rc == 0, f"serve exited with {rc}; log:\n{s.log_text()[-4000:]}"


def submit(srv, rcpts, message, sender=USER):
    with smtplib.SMTP(HOST, srv.ports["submission"], timeout=30) as smtp:
        smtp.ehlo("client.example")
        smtp.login(USER, PASSWORD)
        assert smtp.sendmail(sender, rcpts, message) == {}


def queue_entries(srv):
    return json.loads(srv.cli("queue", "list", "--json").stdout)


def inbox(srv):
    """Every message in the user's INBOX, over IMAP."""
    conn = imaplib.IMAP4(HOST, srv.ports["imap"])
    try:
        conn.login(USER, PASSWORD)
        typ, data = conn.select("INBOX", readonly=True)
        assert typ == "OK"
        out = []
        for num in range(1, int(data[0]) + 1):
            typ, msg = conn.fetch(str(num), "(BODY.PEEK[])")
            assert typ == "OK"
            out.append(msg[0][1])
        return out
    finally:
        conn.logout()


MESSAGE = (b"From: Demo <demo@example.test>\r\nTo: friend@remote.test\r\nSubject: outbound test\r\n"
           b"Message-ID: <outbound-1@example.test>\r\nDate: Fri, 27 Nov 2026 08:00:00 +0000\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           b"Hello over there.\r\n.a line with a leading dot\r\n\r\n  indented, trailing space \r\n"
           + "caf\u00e9 \u2603\r\n".encode() + b"x" * 998 + b"\r\nthe end\r\n")


def body_of(raw):
    return raw.split(b"\r\n\r\n", 1)[1]


def test_submitted_mail_arrives_byte_for_byte(srv, receiver):
    submit(srv, ["friend@remote.test", "friend2@remote.test"], MESSAGE)
    wait_for(lambda: receiver.messages, what="delivery")
    wait_for(lambda: not queue_entries(srv), what="the entry to be removed")
    assert len(receiver.messages) == 1  # both recipients of one domain in one transaction
    got = receiver.messages[0]
    assert got["from"] == USER
    assert sorted(got["to"]) == ["friend2@remote.test", "friend@remote.test"]
    assert body_of(got["data"]) == body_of(MESSAGE)
    # Exactly what was submitted, behind the one Received field this server added.
    assert got["data"].startswith(b"Received: from client.example")
    assert got["data"].endswith(MESSAGE)
    added = got["data"][:-len(MESSAGE)]
    assert added.count(b"\r\n") == added.count(b"\r\n\t") + 1
    assert inbox(srv) == []
    assert "delivered" in srv.log_text()


def test_permanent_failure_gives_exactly_one_bounce(srv, receiver):
    submit(srv, ["friend@remote.test", "nobody@remote.test"], MESSAGE)
    wait_for(lambda: inbox(srv), what="the bounce")
    wait_for(lambda: not queue_entries(srv), what="the entry to be removed")
    srv.wait_queue_scans()  # more passes of the runner: still one bounce
    msgs = inbox(srv)
    assert len(msgs) == 1
    assert len(receiver.messages) == 1 and receiver.messages[0]["to"] == ["friend@remote.test"]
    bounce = email.message_from_bytes(msgs[0])
    assert bounce.get_content_type() == "multipart/report"
    assert bounce.get_param("report-type") == "delivery-status"
    assert bounce["Auto-Submitted"] == "auto-replied"
    assert msgs[0].startswith(b"Return-Path: <>")
    parts = [p.get_content_type() for p in bounce.walk()]
    assert "message/delivery-status" in parts
    status = msgs[0].decode("utf-8", "replace")
    assert "Final-Recipient: rfc822; nobody@remote.test" in status
    assert "friend@remote.test" not in status.split("message/delivery-status", 1)[1].split("\r\n--", 1)[0]
    assert "Action: failed" in status and "Status: 5.1.1" in status
    assert "Remote-MTA: dns; mx.remote.test" in status
    assert "no such user here" in status
    # The original's header comes back.
    assert "Subject: outbound test" in status and "Message-ID: <outbound-1@example.test>" in status


def test_down_destination_is_retried_until_it_comes_back(srv, mx_port):
    submit(srv, ["someone@later.test"], MESSAGE)
    entry = wait_for(lambda: [e for e in queue_entries(srv) if e["recipients"][0]["attempts"] >= 2],
                     what="two failed attempts")[0]
    assert entry["recipients"][0]["state"] == "pending"
    assert entry["recipients"][0]["last_error"]
    late = Receiver("127.0.0.2", mx_port)
    try:
        wait_for(lambda: late.messages, what="delivery after the destination came back")
        wait_for(lambda: not queue_entries(srv), what="the entry to be removed")
        assert body_of(late.messages[0]["data"]) == body_of(MESSAGE)
        assert late.messages[0]["to"] == ["someone@later.test"]
    finally:
        late.stop()
    assert inbox(srv) == []  # no bounce, and no delay notice before delay_notice (4 h)


def test_queue_retry_from_the_cli_is_picked_up(srv, receiver, mx_port):
    """With a long retry_min, only `posthorn queue retry` (another process) makes it due again."""
    srv.stop()
    text = srv.config.read_text().replace("retry_min = 1\nretry_max = 1\n", "retry_min = 3600\nretry_max = 3600\n")
    srv.config.write_text(text)
    srv.start()
    submit(srv, ["someone@later.test"], MESSAGE)
    wait_for(lambda: [e for e in queue_entries(srv) if e["recipients"][0]["attempts"] >= 1], what="one attempt")
    late = Receiver("127.0.0.2", mx_port)
    try:
        srv.wait_queue_scans()
        assert late.messages == []  # not due for an hour
        srv.cli("queue", "retry", "--all")
        wait_for(lambda: late.messages, timeout=15, what="delivery after queue retry")
    finally:
        late.stop()


@pytest.fixture
def short_lived(tmp_path, dns, mx_port, receiver):
    s = outbound_server(tmp_path / "short", dns, mx_port, lifetime=3)
    yield s
    rc = s.stop()
    assert rc == 0, f"serve exited with {rc}; log:\n{s.log_text()[-4000:]}"


def test_expiry_gives_one_bounce(short_lived):
    submit(short_lived, ["someone@dead.test", "other@dead.test"], MESSAGE)
    wait_for(lambda: inbox(short_lived), timeout=30, what="the expiry bounce")
    wait_for(lambda: not queue_entries(short_lived), what="the entry to be removed")
    short_lived.wait_queue_scans()
    msgs = inbox(short_lived)
    assert len(msgs) == 1
    text = msgs[0].decode("utf-8", "replace")
    assert "Final-Recipient: rfc822; someone@dead.test" in text
    assert "Final-Recipient: rfc822; other@dead.test" in text
    assert "Action: failed" in text
    assert email.message_from_bytes(msgs[0]).get_content_type() == "multipart/report"


def send_via_mx(srv, sender, rcpt):
    with smtplib.SMTP(HOST, srv.ports["mx"], timeout=30) as smtp:
        smtp.ehlo("sender.example")
        assert smtp.sendmail(sender, [rcpt], MESSAGE) == {}


def settle(srv, receiver, refusals):
    """Waits for `refusals` refused RCPTs and an empty queue, then a few more runner passes."""
    wait_for(lambda: len(receiver.refused) >= refusals, what=f"{refusals} refused recipients")
    wait_for(lambda: not queue_entries(srv), what="the queue to empty")
    srv.wait_queue_scans()
    assert queue_entries(srv) == []


def test_a_bounce_is_never_bounced(srv, receiver):
    # A remote sender writes to our alias that forwards to a remote address that refuses it: the
    # bounce goes to the remote sender from <>, is refused too, and nothing more happens.
    send_via_mx(srv, "nobody-sender@remote.test", "fwd@example.test")
    settle(srv, receiver, 2)
    assert receiver.refused == [("nobody-sender@remote.test", "nobody-fwd@remote.test"),
                                ("<>", "nobody-sender@remote.test")]
    assert receiver.messages == []
    assert inbox(srv) == []
    # A message from the null sender to a refusing address gets no bounce either.
    send_via_mx(srv, "", "fwd@example.test")
    settle(srv, receiver, 3)
    assert receiver.refused[2:] == [("<>", "nobody-fwd@remote.test")]


def test_relayed_notice_for_notify_success_to_a_server_without_dsn(srv, receiver):
    """aiosmtpd does not offer DSN: NOTIFY=SUCCESS gets a "relayed" report (RFC 3461 §5.2.2) from us."""
    with smtplib.SMTP(HOST, srv.ports["submission"], timeout=30) as smtp:
        smtp.ehlo("client.example")
        smtp.login(USER, PASSWORD)
        assert smtp.sendmail(USER, ["friend@remote.test", "friend2@remote.test"], MESSAGE,
                             rcpt_options=["NOTIFY=SUCCESS"]) == {}
    wait_for(lambda: receiver.messages, what="delivery")
    msgs = wait_for(lambda: inbox(srv), what="the relayed notice")
    wait_for(lambda: not queue_entries(srv), what="the entry to be removed")
    assert len(msgs) == 1
    text = msgs[0].decode("utf-8", "replace")
    assert "Action: relayed" in text and "Status: 2.0.0" in text
    assert "Final-Recipient: rfc822; friend@remote.test" in text
    assert "Final-Recipient: rfc822; friend2@remote.test" in text
    assert "Remote-MTA: dns; mx.remote.test" in text
    assert "Hello over there." not in text  # the header only


@pytest.fixture
def receiving_posthorn(tmp_path):
    """A second Posthorn that is the MX of remote.test, with the user friend@remote.test."""
    b = Server(tmp_path / "b")
    b.init()
    b.cli("domain", "add", "remote.test")
    b.cli("user", "add", "friend@remote.test", "--password-stdin", input="friend password\n")
    b.start()
    yield b
    rc = b.stop()
    assert rc == 0, f"serve exited with {rc}; log:\n{b.log_text()[-4000:]}"


def test_posthorn_to_posthorn(tmp_path, dns, receiving_posthorn):
    """Mail submitted to one Posthorn reaches a second one (its MX by DNS) byte for byte, over
    STARTTLS, and an unknown user there gives the sender one bounce."""
    b = receiving_posthorn
    a = outbound_server(tmp_path / "a", dns, b.ports["mx"])
    try:
        submit(a, ["friend@remote.test", "nobody@remote.test"], MESSAGE)
        wait_for(lambda: not queue_entries(a), what="the entry to be removed")
        conn = imaplib.IMAP4(HOST, b.ports["imap"])
        try:
            conn.login("friend@remote.test", "friend password")
            typ, data = conn.select("INBOX", readonly=True)
            assert typ == "OK" and int(data[0]) == 1
            typ, msg = conn.fetch("1", "(BODY.PEEK[])")
            got = msg[0][1]
        finally:
            conn.logout()
        assert got.endswith(MESSAGE)
        # B's trace fields, then A's Received (from the submission client), then the message.
        assert got.startswith(b"Return-Path: <demo@example.test>\r\nReceived: from localhost")
        assert b"with ESMTPS" in got  # A used STARTTLS to B
        assert b"Received: from client.example" in got
        bounces = wait_for(lambda: inbox(a), what="the bounce for nobody@remote.test")
        assert len(bounces) == 1
        text = bounces[0].decode("utf-8", "replace")
        assert "Final-Recipient: rfc822; nobody@remote.test" in text and "Status: 5.1.1" in text
    finally:
        rc = a.stop()
        assert rc == 0, f"serve exited with {rc}; log:\n{a.log_text()[-4000:]}"
