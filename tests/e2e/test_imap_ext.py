"""End-to-end tests of IMAP extensions with real clients against the real binary: QUOTA [RFC 9208]
through Python imaplib (limits set with `posthorn user add --quota`, over-quota APPEND/COPY answered
NO [OVERQUOTA] at N+1 and accepted at N); COMPRESS=DEFLATE [RFC 4978] with Python's zlib over a raw
socket and inside implicit TLS, including a decompression bomb; REPLACE / UID REPLACE [RFC 8508]
through imaplib and with a non-synchronising literal."""
import imaplib
import re
import socket
import ssl
import zlib

import pytest

MESSAGE = (b"From: Alice <alice@example.test>\r\n"
           b"To: q@example.test\r\n"
           b"Subject: quota\r\n"
           b"\r\n" + b"x" * 900 + b"\r\n")


def ok(result):
    typ, data = result
    assert typ == "OK", data
    return data


def login(server, user, password):
    conn = imaplib.IMAP4("localhost", server.ports["imap"])
    conn.starttls(ssl_context=server.ssl_context())
    ok(conn.login(user, password))
    return conn


def add_user(server, address, password, quota):
    server.cli("user", "add", address, "--password-stdin", "--quota", str(quota), input=password + "\n")


def test_quota_without_limit(server):
    conn = login(server, server.user, server.password)
    caps = ok(conn.capability())[0].split()  # imaplib keeps the greeting's list in .capabilities
    for cap in (b"QUOTA", b"QUOTA=RES-STORAGE", b"QUOTA=RES-MESSAGE"):
        assert cap in caps, caps
    typ, data = conn.getquotaroot("INBOX")
    assert typ == "OK"
    assert data[0] == [b'INBOX ""'], data
    assert data[1] == [None], data  # nothing limited: no QUOTA response
    typ, data = conn.setquota('""', "(STORAGE 10)")
    assert typ == "NO" and b"[NOPERM]" in data[0], data
    typ, data = conn.getquota('"#user/other"')
    assert typ == "NO" and b"[NONEXISTENT]" in data[0], data
    conn.logout()


def test_quota_storage_at_n_and_n_plus_one(server):
    size = len(MESSAGE)
    limit = 2 * size
    # One byte short of two messages: the second APPEND is N+1.
    add_user(server, "tight@example.test", "tight pass", limit - 1)
    # Exactly two messages: the second APPEND reaches N.
    add_user(server, "q@example.test", "quota pass", limit)

    tight = login(server, "tight@example.test", "tight pass")
    ok(tight.append("INBOX", None, None, MESSAGE))
    typ, data = tight.append("INBOX", None, None, MESSAGE)
    assert typ == "NO" and b"[OVERQUOTA]" in data[0], data
    tight.logout()

    conn = login(server, "q@example.test", "quota pass")
    ok(conn.append("INBOX", None, None, MESSAGE))
    typ, data = conn.getquotaroot("INBOX")
    assert typ == "OK"
    assert data[0] == [b'INBOX ""'], data
    kib = lambda n: (n + 1023) // 1024  # noqa: E731
    assert data[1] == [f'"" (STORAGE {kib(size)} {kib(limit)})'.encode()], data
    ok(conn.append("INBOX", None, None, MESSAGE))  # usage == limit: accepted
    typ, data = conn.append("INBOX", None, None, MESSAGE)
    assert typ == "NO" and b"[OVERQUOTA]" in data[0], data
    ok(conn.select("INBOX"))
    typ, data = conn.copy("1", "Archive")
    assert typ == "NO" and b"[OVERQUOTA]" in data[0], data
    # STATUS DELETED / DELETED-STORAGE (KiB) [RFC 9208 §4.3]
    ok(conn.store("1", "+FLAGS.SILENT", "(\\Deleted)"))
    data = ok(conn.status("INBOX", "(DELETED DELETED-STORAGE)"))
    assert re.search(rb"DELETED 1 DELETED-STORAGE %d\)" % kib(size), data[0]), data
    ok(conn.expunge())
    ok(conn.append("INBOX", None, None, MESSAGE))  # room again after EXPUNGE
    data = ok(conn.getquota('""'))
    assert data == [f'"" (STORAGE {kib(limit)} {kib(limit)})'.encode()], data
    conn.logout()


class DeflateClient:
    """A raw IMAP client that switches both directions to raw DEFLATE after COMPRESS."""

    def __init__(self, sock):
        self.sock = sock
        self.comp = None
        self.decomp = None
        self.buf = b""
        self.n = 0

    def start_compression(self):
        assert self.buf == b"", self.buf  # nothing may follow the OK uncompressed
        self.comp = zlib.compressobj(wbits=-15)
        self.decomp = zlib.decompressobj(wbits=-15)

    def send(self, data):
        if self.comp:
            data = self.comp.compress(data) + self.comp.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def _more(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("server closed")
        self.buf += self.decomp.decompress(chunk) if self.decomp else chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self._more()
        out, self.buf = self.buf.split(b"\r\n", 1)
        return out

    def exact(self, n):
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def command(self, text, literal=None):
        """Sends a command (with a non-synchronising literal) and returns its lines and literals."""
        self.n += 1
        tag = b"t%d" % self.n
        data = tag + b" " + text
        if literal is not None:
            data += b" {%d+}\r\n" % len(literal) + literal
        self.send(data + b"\r\n")
        lines = []
        while True:
            line = self.line()
            m = re.search(rb"\{(\d+)\}$", line)
            if m:
                line += b"\r\n" + self.exact(int(m.group(1))) + self.line()
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines


def compressed_session(server, implicit_tls):
    if implicit_tls:
        raw = socket.create_connection(("localhost", server.ports["imaps"]), timeout=30)
        sock = server.ssl_context().wrap_socket(raw, server_hostname="localhost")
    else:
        sock = socket.create_connection(("localhost", server.ports["imap"]), timeout=30)
    c = DeflateClient(sock)
    assert c.line().startswith(b"* OK")
    lines = c.command(b'LOGIN "%s" "%s"' % (server.user.encode(), server.password.encode()))
    assert lines[-1].split()[1] == b"OK", lines
    assert b" COMPRESS=DEFLATE " in lines[-1], lines
    lines = c.command(b"COMPRESS DEFLATE")
    assert lines == [b"t2 OK DEFLATE active"], lines
    c.start_compression()
    return c


@pytest.mark.parametrize("implicit_tls", [False, True])
def test_compress_deflate_round_trip(server, implicit_tls):
    c = compressed_session(server, implicit_tls)
    assert c.command(b"NOOP")[-1] == b"t3 OK NOOP completed"
    body = MESSAGE + b"compressible " * 5000 + b"\r\n"
    lines = c.command(b"APPEND INBOX", literal=body)
    assert lines[-1].startswith(b"t4 OK [APPENDUID "), lines
    assert c.command(b"SELECT INBOX")[-1].startswith(b"t5 OK")
    lines = c.command(b"FETCH 1 BODY.PEEK[]")
    assert lines[-1] == b"t6 OK FETCH completed", lines[-1]
    assert body in lines[0]
    lines = c.command(b"COMPRESS DEFLATE")
    assert lines == [b"t7 NO [COMPRESSIONACTIVE] DEFLATE is already active"], lines
    lines = c.command(b"LOGOUT")
    assert lines[-1] == b"t8 OK LOGOUT completed", lines


def test_compress_refusals(server):
    sock = socket.create_connection(("localhost", server.ports["imap"]), timeout=30)
    c = DeflateClient(sock)
    c.line()
    assert b"COMPRESS" not in c.command(b"CAPABILITY")[0]  # not before login
    assert c.command(b"COMPRESS DEFLATE")[-1].startswith(b"t2 BAD")
    c.command(b'LOGIN "%s" "%s"' % (server.user.encode(), server.password.encode()))
    assert c.command(b"COMPRESS LZMA")[-1] == b"t4 BAD Unknown compression mechanism"
    assert c.command(b"NOOP")[-1] == b"t5 OK NOOP completed"  # still uncompressed
    sock.close()


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def test_compress_bomb_stops_at_line_limit(server):
    c = compressed_session(server, implicit_tls=False)
    before = rss_kb(server.proc.pid)
    # 256 MiB of one "line" compresses to about 256 KiB; the server must stop at its line limit.
    chunk = b"a" * (1 << 20)
    try:
        for _ in range(256):
            c.send(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    lines = []
    try:
        while True:
            lines.append(c.line())
    except (EOFError, ConnectionResetError):
        pass
    # The goodbye may be lost to the reset that closing with unread input causes.
    if lines:
        assert lines[0] == b"* BYE Line too long", lines
    grown = rss_kb(server.proc.pid) - before
    assert grown < 64 * 1024, f"server grew by {grown} KB"
    assert "invalid compressed input" not in server.log_text()
    conn = login(server, server.user, server.password)  # still serving
    conn.logout()


def imap_replace(conn, number, mailbox, flags, message, uid=False):
    imaplib.Commands.setdefault("REPLACE", ("SELECTED",))
    conn.literal = message
    if uid:
        return conn.uid("REPLACE", str(number), mailbox, flags)
    return conn._simple_command("REPLACE", str(number), mailbox, flags)


def test_replace_and_uid_replace(server):
    conn = login(server, server.user, server.password)
    assert b"REPLACE" in ok(conn.capability())[0].split()
    ok(conn.append("Drafts", "(\\Draft)", None, MESSAGE))
    ok(conn.append("Drafts", "(\\Draft)", None, MESSAGE.replace(b"quota", b"second")))
    ok(conn.select("Drafts"))
    new = MESSAGE.replace(b"quota", b"edited draft")
    typ, data = imap_replace(conn, 1, "Drafts", "(\\Seen \\Draft)", new)
    assert typ == "OK", data
    appenduid = conn.untagged_responses.pop("APPENDUID", None)
    assert appenduid and appenduid[0].split()[1] == b"3", appenduid
    assert conn.untagged_responses.pop("EXPUNGE", None) == [b"1"]
    data = ok(conn.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
    text = b" ".join(x if isinstance(x, bytes) else b" ".join(x) for x in data)
    assert b"UID 1 " not in text and b"edited draft" in text and b"second" in text, text
    # UID REPLACE into another mailbox; the old UID must exist.
    typ, data = imap_replace(conn, 2, "INBOX", "()", MESSAGE, uid=True)
    assert typ == "OK", data
    data = ok(conn.uid("FETCH", "1:*", "(UID)"))
    assert data == [b"1 (UID 3)"], data
    typ, data = imap_replace(conn, 99, "INBOX", "()", MESSAGE, uid=True)
    assert typ == "NO" and b"[NONEXISTENT]" in data[0], data
    typ, data = imap_replace(conn, 1, "No/Such", "()", MESSAGE)
    assert typ == "NO" and b"[TRYCREATE]" in data[0], data
    data = ok(conn.uid("FETCH", "1:*", "(UID)"))
    assert data == [b"1 (UID 3)"], data  # a failed REPLACE changes nothing
    data = ok(conn.status("INBOX", "(MESSAGES)"))
    assert b"MESSAGES 1" in data[0], data
    conn.logout()


def test_replace_with_non_synchronising_literal(server):
    sock = socket.create_connection(("localhost", server.ports["imap"]), timeout=30)
    c = DeflateClient(sock)
    c.line()
    c.command(b'LOGIN "%s" "%s"' % (server.user.encode(), server.password.encode()))
    assert c.command(b"APPEND INBOX", literal=MESSAGE)[-1].startswith(b"t2 OK")
    c.command(b"SELECT INBOX")
    lines = c.command(b"REPLACE 1 INBOX (\\Flagged)", literal=MESSAGE.replace(b"quota", b"replaced"))
    assert lines[-1] == b"t4 OK REPLACE completed", lines
    assert lines[0].startswith(b"* OK [APPENDUID ") and lines[0].endswith(b" 2] Replacement Message ID"), lines
    assert b"* 1 EXPUNGE" in lines, lines
    assert b"* 1 EXISTS" in lines, lines
    assert c.command(b"REPLACE 2 INBOX", literal=MESSAGE)[-1].startswith(b"t5 BAD")
    sock.close()
