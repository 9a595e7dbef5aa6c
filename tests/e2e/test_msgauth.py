"""Mail authentication end to end (issue 9): two real Posthorn servers and a private unbound.

Server A (example.test) DKIM-signs what its users submit, with keys from `posthorn dkim generate`
whose TXT records are published in the test DNS next to SPF and DMARC records. Server B
(remote.test, the MX by DNS) checks what arrives on its MX listener and records the results in an
Authentication-Results field [RFC 8601] read back over IMAP. Forged mail (SPF fail under DMARC
p=reject / p=quarantine) is refused with 550 5.7.1 or filed in Junk, and a forged
Authentication-Results field naming B is removed."""
import imaplib
import re
import smtplib

import pytest

from conftest import PASSWORD, USER, Server, wait_for
from localdns import Unbound

HOST = "localhost"
FRIEND = "friend@remote.test"
FRIEND_PASSWORD = "friend password"

MESSAGE = (b"From: Demo <demo@example.test>\r\nTo: friend@remote.test\r\nSubject: signed\r\n"
           b"Date: Fri, 27 Nov 2026 08:00:00 +0000\r\nMessage-ID: <signed-1@example.test>\r\n\r\n"
           b"Hello, signed world.\r\n")


def dkim_records(stdout):
    """unbound local-data lines from `posthorn dkim generate` output ('NAME. IN TXT "a" "b"')."""
    out = []
    for line in stdout.splitlines():
        m = re.fullmatch(r'(\S+\.) IN TXT ((?:"[^"]*" ?)+)', line.strip())
        if m:
            out.append(f"{m.group(1)} TXT {m.group(2)}")
    return out


def with_dns(server, dns_port, extra=""):
    text = server.config.read_text()
    assert "verify = false\n" in text  # init --dev turns the checks off; this test wants them
    server.config.write_text(text.replace("verify = false\n", "verify = true\n"))
    with server.config.open("a") as f:
        f.write(f'\n[dns]\nresolver = "127.0.0.1:{dns_port}"\ntimeout = 5\n{extra}')


@pytest.fixture
def pair(tmp_path):
    a = Server(tmp_path / "a")
    a.init()
    a.cli("domain", "add", "home.test")
    a.cli("alias", "add", "demo@home.test", USER)
    generated = a.cli("dkim", "generate", "example.test", "--selector", "s1")
    keys = dkim_records(generated.stdout)
    assert len(keys) == 2, generated.stdout

    b = Server(tmp_path / "b")
    b.init()
    b.cli("domain", "add", "remote.test")
    b.cli("user", "add", FRIEND, "--password-stdin", input=FRIEND_PASSWORD + "\n")
    # Forwards back to A (home.test is A's; example.test is local on B too, as on every test server).
    b.cli("alias", "add", "fwd@remote.test", "demo@home.test")
    b_keys = dkim_records(b.cli("dkim", "generate", "remote.test", "--selector", "b1").stdout)

    zones = ["remote.test.", "example.test.", "home.test.", "forged.test.", "quarantined.test."]
    records = ["remote.test. MX 10 mx.remote.test.", "mx.remote.test. A 127.0.0.1",
               "home.test. MX 10 mx.home.test.", "mx.home.test. A 127.0.0.1",
               'example.test. TXT "v=spf1 ip4:127.0.0.0/8 -all"',
               '_dmarc.example.test. TXT "v=DMARC1; p=reject; adkim=s"',
               'forged.test. TXT "v=spf1 ip4:192.0.2.1 -all"',
               '_dmarc.forged.test. TXT "v=DMARC1; p=reject"',
               'quarantined.test. TXT "v=spf1 ip4:192.0.2.1 -all"',
               '_dmarc.quarantined.test. TXT "v=DMARC1; p=quarantine"'] + keys + b_keys
    dns = Unbound(records, zones=zones)
    with_dns(a, dns.port, f"[delivery]\nport = {b.ports['mx']}\nipv6 = false\nconnect_timeout = 2\n"
                          "retry_min = 1\nretry_max = 1\nconnection_idle = 0\n")
    with_dns(b, dns.port, f"[delivery]\nport = {a.ports['mx']}\nipv6 = false\nconnect_timeout = 2\n"
                          "retry_min = 1\nretry_max = 1\nconnection_idle = 0\n")
    b.start()
    a.start()
    yield a, b
    try:
        for s in (a, b):
            rc = s.stop()
            assert rc == 0, f"serve exited with {rc}; log:\n{s.log_text()[-4000:]}"
    finally:
        dns.stop()


def mailbox(server, user, password, name="INBOX"):
    conn = imaplib.IMAP4(HOST, server.ports["imap"])
    try:
        conn.login(user, password)
        typ, data = conn.select(name, readonly=True)
        assert typ == "OK", data
        out = []
        for num in range(1, int(data[0]) + 1):
            typ, msg = conn.fetch(str(num), "(BODY.PEEK[])")
            out.append(msg[0][1])
        return out
    finally:
        conn.logout()


def auth_results(raw):
    """The Authentication-Results field of a stored message, unfolded."""
    header = raw.split(b"\r\n\r\n", 1)[0].decode()
    m = re.search(r"^Authentication-Results:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", header, re.M | re.I)
    assert m, header
    return re.sub(r"\r\n[ \t]+", " ", m.group(1)).strip()


def test_signed_mail_passes_spf_dkim_and_dmarc_at_the_receiver(pair):
    a, b = pair
    with smtplib.SMTP(HOST, a.ports["submission"], timeout=30) as smtp:
        smtp.ehlo("client.example")
        smtp.login(USER, PASSWORD)
        assert smtp.sendmail(USER, [FRIEND], MESSAGE) == {}
    got = wait_for(lambda: mailbox(b, FRIEND, FRIEND_PASSWORD), timeout=30, what="delivery to B")
    assert len(got) == 1
    raw = got[0]
    assert raw.endswith(MESSAGE)  # the message as submitted, after the added fields
    assert raw.count(b"DKIM-Signature:") == 2
    ar = auth_results(raw)
    assert ar.startswith("localhost;"), ar
    assert "spf=pass smtp.mailfrom=example.test" in ar, ar
    assert re.search(r"dkim=pass header\.d=example\.test header\.s=s1-rsa", ar), ar
    assert re.search(r"dkim=pass header\.d=example\.test header\.s=s1-ed25519", ar), ar
    assert "dmarc=pass header.from=example.test" in ar, ar
    assert "dkim=pass" in b.log_text() or "dmarc=pass" in b.log_text()
    assert "arc=none" in ar, ar


def test_forwarding_alias_seals_with_arc(pair):
    """A -> B's alias fwd@remote.test -> back to A: B adds an ARC set (d=remote.test) over its own
    Authentication-Results, and A's checks find arc=pass next to dkim=pass."""
    a, b = pair
    with smtplib.SMTP(HOST, a.ports["submission"], timeout=30) as smtp:
        smtp.ehlo("client.example")
        smtp.login(USER, PASSWORD)
        assert smtp.sendmail(USER, ["fwd@remote.test"], MESSAGE) == {}
    got = wait_for(lambda: mailbox(a, USER, PASSWORD), timeout=60, what="the forwarded message back at A")
    assert len(got) == 1
    raw = got[0]
    header = raw.split(b"\r\n\r\n", 1)[0].decode()
    assert "ARC-Seal: i=1; a=rsa-sha256; cv=none; d=remote.test; s=b1-rsa;" in re.sub(r"\r\n[ \t]+", " ", header)
    assert "ARC-Message-Signature: i=1;" in header
    assert re.search(r"ARC-Authentication-Results: i=1; localhost;", header), header
    ar = auth_results(raw)  # A's own (the first field)
    assert "arc=pass" in ar, ar
    assert "dkim=pass header.d=example.test" in ar, ar
    assert raw.endswith(MESSAGE)


def send_raw(server, sender, message, rcpt=FRIEND):
    """MAIL/RCPT/DATA over the MX listener; returns the final (code, text)."""
    with smtplib.SMTP(HOST, server.ports["mx"], timeout=30) as smtp:
        smtp.ehlo("client.example")
        code, msg = smtp.mail(sender)
        assert code == 250, msg
        code, msg = smtp.rcpt(rcpt)
        assert code == 250, msg
        return smtp.data(message)


def test_dmarc_reject_refuses_a_forgery(pair):
    _, b = pair
    forged = (b"From: Bank <alerts@forged.test>\r\nTo: friend@remote.test\r\nSubject: urgent\r\n\r\n"
              b"Please log in.\r\n")
    code, text = send_raw(b, "alerts@forged.test", forged)
    assert code == 550 and text.startswith(b"5.7.1"), (code, text)
    assert b"DMARC" in text
    assert mailbox(b, FRIEND, FRIEND_PASSWORD) == []


def test_dmarc_quarantine_files_in_junk(pair):
    _, b = pair
    msg = (b"From: News <news@quarantined.test>\r\nTo: friend@remote.test\r\nSubject: offer\r\n\r\n"
           b"Buy now.\r\n")
    code, text = send_raw(b, "news@quarantined.test", msg)
    assert code == 250, text
    assert mailbox(b, FRIEND, FRIEND_PASSWORD) == []
    junk = mailbox(b, FRIEND, FRIEND_PASSWORD, "Junk")
    assert len(junk) == 1
    ar = auth_results(junk[0])
    assert "spf=fail" in ar and "dmarc=fail" in ar and "dkim=none" in ar, ar


def test_forged_authentication_results_naming_us_are_removed(pair):
    _, b = pair
    msg = (b"Authentication-Results: localhost; dkim=pass header.d=example.test\r\n"
           b"Authentication-Results: elsewhere.example; spf=pass smtp.mailfrom=x.example\r\n"
           b"From: someone@unsigned.example\r\nTo: friend@remote.test\r\nSubject: hi\r\n\r\nhello\r\n")
    code, text = send_raw(b, "someone@unsigned.example", msg)
    assert code == 250, text
    got = mailbox(b, FRIEND, FRIEND_PASSWORD)
    assert len(got) == 1
    header = got[0].split(b"\r\n\r\n", 1)[0]
    assert header.count(b"Authentication-Results: localhost;") == 1  # ours only
    assert b"dkim=pass header.d=example.test" not in header
    assert b"Authentication-Results: elsewhere.example;" in header  # another server's is kept
    ar = auth_results(got[0])
    assert "spf=none" in ar and "dkim=none" in ar and "dmarc=none" in ar, ar


def test_keys_generated_while_serving_are_used_after_sighup(server):
    """`posthorn dkim generate` on a running server, SIGHUP, and the next submission is signed."""
    import signal

    def submit_to_self(subject):
        with smtplib.SMTP(HOST, server.ports["submission"], timeout=30) as smtp:
            smtp.ehlo("client.example")
            smtp.login(USER, PASSWORD)
            msg = f"From: demo@example.test\r\nTo: demo@example.test\r\nSubject: {subject}\r\n\r\nbody\r\n"
            assert smtp.sendmail(USER, [USER], msg) == {}

    submit_to_self("before")
    server.cli("dkim", "generate", "example.test", "--selector", "hup")
    server.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "signing key(s) loaded" in server.log_text(), timeout=30, what="the keys to be loaded")
    submit_to_self("after")
    got = mailbox(server, USER, PASSWORD)
    assert len(got) == 2
    before = next(m for m in got if b"Subject: before" in m)
    after = next(m for m in got if b"Subject: after" in m)
    assert b"DKIM-Signature:" not in before
    assert after.count(b"DKIM-Signature:") == 2
    assert b"s=hup-rsa" in after and b"s=hup-ed25519" in after and b"d=example.test" in after
