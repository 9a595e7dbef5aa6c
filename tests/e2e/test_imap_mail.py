"""End-to-end IMAP mail tests: the real binary with real clients (Python imaplib, curl, mbsync)
over STARTTLS and implicit TLS: mailbox management, APPEND/FETCH round trips, flags and expunges
seen by a second connection, IDLE, COPY/MOVE with COPYUID, CONDSTORE/QRESYNC, and limits at N and
N+1 (APPENDLIMIT, literal size)."""
import imaplib
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest

NON_ASCII = ("From: =?utf-8?q?J=C3=BCrgen?= <juergen@example.test>\r\n"
             "To: demo@example.test\r\n"
             "Subject: =?utf-8?b?R3LDvMOfZQ==?=\r\n"
             "MIME-Version: 1.0\r\n"
             "Content-Type: text/plain; charset=utf-8\r\n"
             "Content-Transfer-Encoding: 8bit\r\n"
             "\r\n"
             "Gr\u00fc\u00dfe aus K\u00f6ln \u2014 \u65e5\u672c\u8a9e\r\n").encode()

MULTIPART = (b"From: Alice <alice@example.test>\r\n"
             b"To: demo@example.test\r\n"
             b"Subject: parts\r\n"
             b"MIME-Version: 1.0\r\n"
             b"Content-Type: multipart/mixed; boundary=\"xyz\"\r\n"
             b"\r\n"
             b"--xyz\r\n"
             b"Content-Type: text/plain; charset=us-ascii\r\n"
             b"\r\n"
             b"first part\r\n"
             b"--xyz\r\n"
             b"Content-Type: application/octet-stream\r\n"
             b"Content-Transfer-Encoding: base64\r\n"
             b"\r\n"
             b"AAECAwQ=\r\n"
             b"--xyz--\r\n")

SIMPLE = b"From: a@example.test\r\nSubject: simple\r\n\r\nbody\r\n"


def connect(server, tls="starttls"):
    if tls == "implicit":
        conn = imaplib.IMAP4_SSL("localhost", server.ports["imaps"], ssl_context=server.ssl_context())
    else:
        conn = imaplib.IMAP4("localhost", server.ports["imap"])
        conn.starttls(ssl_context=server.ssl_context())
    typ, _ = conn.login(server.user, server.password)
    assert typ == "OK"
    return conn


def ok(result):
    typ, data = result
    assert typ == "OK", data
    return data


def two_sessions(server, messages):
    """Two connections of the same user; the first has appended `messages` copies of SIMPLE."""
    a = connect(server)
    b = connect(server)
    for _ in range(messages):
        ok(a.append("INBOX", None, None, SIMPLE))
    return a, b


def test_list_create_rename_delete(server):
    c = connect(server)
    data = ok(c.list())
    names = [d.decode() for d in data]
    assert '(\\HasNoChildren) "/" INBOX' in names
    assert '(\\HasNoChildren \\Sent) "/" Sent' in names
    ok(c.create("Projects/2026"))
    typ, data = c.create("Projects/2026")
    assert typ == "NO" and b"[ALREADYEXISTS]" in data[0]
    assert '(\\HasChildren) "/" Projects' in [d.decode() for d in ok(c.list('""', "Projects*"))]
    ok(c.rename("Projects", "Work"))
    assert [d.decode() for d in ok(c.list("Work/", "%"))] == ['(\\HasNoChildren) "/" Work/2026']
    ok(c.subscribe("Work/2026"))
    assert [d.decode() for d in ok(c.lsub('""', "Work*"))] == ['() "/" Work/2026']
    ok(c.delete("Work/2026"))
    typ, data = c.delete("Work/2026")
    assert typ == "NO" and b"[NONEXISTENT]" in data[0]
    typ, data = c.select("Nope")
    assert typ == "NO"
    # Non-ASCII names travel as modified UTF-7.
    ok(c.create("Entw&APw-rfe"))
    assert '(\\HasNoChildren) "/" Entw&APw-rfe' in [d.decode() for d in ok(c.list())]
    typ, data = c.create("&AGE-")  # encodes printable ASCII: invalid modified UTF-7
    assert typ == "NO"
    # NAMESPACE and STATUS with SIZE.
    typ, data = c._simple_command("NAMESPACE")
    assert typ == "OK"
    assert c.untagged_responses["NAMESPACE"][0] == b'(("" "/")) NIL NIL'
    data = ok(c.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE APPENDLIMIT)"))
    assert re.match(rb'INBOX \(MESSAGES 0 UIDNEXT 1 UIDVALIDITY \d+ UNSEEN 0 SIZE 0 APPENDLIMIT 52428800\)', data[0]), data
    c.logout()


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_append_fetch_round_trip(server, tls):
    c = connect(server, tls)
    typ, data = c.append("INBOX", r"(\Flagged)", imaplib.Time2Internaldate(1700000000), NON_ASCII)
    assert typ == "OK" and re.match(rb"\[APPENDUID \d+ 1\] APPEND completed", data[0]), data
    typ, data = c.append("INBOX", None, None, MULTIPART)
    assert typ == "OK" and b" 2]" in data[0], data
    typ, data = c.select("INBOX")
    assert typ == "OK" and data == [b"2"]
    # Whole message back byte for byte, with \Seen set implicitly.
    typ, data = c.fetch("1", "(BODY[] FLAGS)")
    assert typ == "OK"
    assert data[0][1] == NON_ASCII
    assert b"\\Seen" in data[0][0] + data[1]
    typ, data = c.fetch("1", "(INTERNALDATE RFC822.SIZE)")
    assert f"RFC822.SIZE {len(NON_ASCII)}".encode() in data[0]
    assert imaplib.Internaldate2tuple(data[0]) is not None
    typ, data = c.fetch("1", "(ENVELOPE)")
    assert b'"=?utf-8?b?R3LDvMOfZQ==?="' in data[0], data
    # Multipart: structure, sections, MIME header, BINARY decoding, partial.
    typ, data = c.fetch("2", "(BODYSTRUCTURE)")
    assert b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" ' in data[0], data
    assert b'("application" "octet-stream" NIL NIL NIL "base64" ' in data[0], data
    assert b'"mixed" ("boundary" "xyz")' in data[0], data
    typ, data = c.fetch("2", "(BODY.PEEK[1] BODY.PEEK[2.MIME] BINARY.PEEK[2] BINARY.SIZE[2] BODY.PEEK[]<0.4>)")
    items = {}
    for d in data:
        if isinstance(d, tuple):
            key = d[0].split(b" ")[-2] if d[0].endswith(b"}") else d[0]
            items[key.split(b"(")[-1]] = d[1]
    assert items[b"BODY[1]"] == b"first part"
    assert items[b"BODY[2.MIME]"].startswith(b"Content-Type: application/octet-stream\r\n")
    assert items[b"BINARY[2]"] == b"\x00\x01\x02\x03\x04"
    assert items[b"BODY[]<0>"] == b"From"
    assert b"BINARY.SIZE[2] 5" in b"".join(d[0] if isinstance(d, tuple) else d for d in data)
    typ, data = c.fetch("2", "FLAGS")
    assert b"\\Seen" not in data[0]  # only PEEKs
    typ, data = c.uid("FETCH", "1:*", "(UID RFC822.HEADER)")
    assert typ == "OK" and data[0][1].endswith(b"\r\n\r\n")
    c.logout()


def test_store_flags_seen_by_second_connection(server):
    a, b = two_sessions(server, 1)
    ok(a.select("INBOX"))
    ok(b.select("INBOX"))
    data = ok(a.store("1", "+FLAGS", r"(\Answered $Work)"))
    assert data == [rb"1 (FLAGS (\Answered \Recent $Work))"], data
    ok(b.noop())
    fetches = b.untagged_responses.get("FETCH", [])
    assert rb"1 (FLAGS (\Answered $Work))" in fetches, fetches
    data = ok(b.fetch("1", "FLAGS"))
    assert set(data) == {rb"1 (FLAGS (\Answered $Work))"}
    a.logout()
    b.logout()


def test_idle_receives_exists_after_append_elsewhere(server):
    a = connect(server, "implicit")
    b = connect(server)
    ok(a.select("INBOX"))
    tag = a._new_tag().decode()
    a.send(f"{tag} IDLE\r\n".encode())
    assert a.readline().startswith(b"+ ")
    start = time.time()
    ok(b.append("INBOX", None, None, SIMPLE))
    assert a.readline() == b"* 1 EXISTS\r\n"
    assert time.time() - start < 3
    a.send(b"DONE\r\n")
    line = a.readline()
    while line.startswith(b"*"):
        line = a.readline()
    assert line == f"{tag} OK IDLE terminated\r\n".encode()
    ok(a.noop())
    a.logout()
    b.logout()


def test_expunge_seen_by_other_session(server):
    a, b = two_sessions(server, 3)
    ok(a.select("INBOX"))
    ok(b.select("INBOX"))
    ok(a.store("2", "+FLAGS.SILENT", r"(\Deleted)"))
    data = ok(a.expunge())
    assert data == [b"2"]
    ok(b.noop())
    assert b.untagged_responses.get("EXPUNGE") == [b"2"]
    data = ok(b.fetch("1:*", "UID"))
    assert data == [b"1 (UID 1)", b"2 (UID 3)"]
    a.logout()
    b.logout()


def test_copy_move_with_copyuid(server):
    c = connect(server)
    for _ in range(3):
        ok(c.append("INBOX", None, None, SIMPLE))
    ok(c.select("INBOX"))
    typ, data = c.copy("1:2", "Archive")
    assert typ == "OK" and re.match(rb"\[COPYUID \d+ 1:2 1:2\] COPY completed", data[0]), data
    typ, data = c.uid("MOVE", "2:3", "Trash")
    assert typ == "OK", data
    assert re.match(rb"\[COPYUID \d+ 2:3 1:2\] Moved", c.untagged_responses["OK"][-1]), c.untagged_responses
    assert c.untagged_responses["EXPUNGE"] == [b"3", b"2"]
    typ, data = c.copy("1", "Nowhere")
    assert typ == "NO" and b"[TRYCREATE]" in data[0]
    assert ok(c.status("Trash", "(MESSAGES)")) == [b"Trash (MESSAGES 2)"]
    c.logout()


def test_condstore_qresync_select(server):
    a, b = two_sessions(server, 3)
    ok(a._simple_command("ENABLE", "QRESYNC"))
    ok(a.select("INBOX"))
    validity = int(a.untagged_responses["UIDVALIDITY"][0])
    highest = int(a.untagged_responses["HIGHESTMODSEQ"][0])
    a.unselect()
    ok(b.select("INBOX"))
    ok(b.store("1", "+FLAGS", r"(\Flagged)"))
    ok(b.store("2", "+FLAGS", r"(\Deleted)"))
    ok(b.expunge())
    typ, data = a._simple_command("SELECT", f"INBOX (QRESYNC ({validity} {highest} 1:3))")
    assert typ == "OK", data
    a.state = "SELECTED"  # imaplib's select() cannot send QRESYNC parameters
    assert a.untagged_responses["VANISHED"] == [b"(EARLIER) 2"], a.untagged_responses
    fetch = a.untagged_responses["FETCH"][0]
    assert fetch.startswith(b"1 (UID 1 FLAGS (\\Flagged") and b"MODSEQ (" in fetch, fetch
    # CONDSTORE STORE with a stale UNCHANGEDSINCE.
    typ, data = a._simple_command("STORE", "1 (UNCHANGEDSINCE 1) +FLAGS (\\Seen)")
    assert typ == "OK" and data[-1].startswith(b"[MODIFIED 1]"), data
    a.logout()
    b.logout()


def raw_session(server):
    ctx = server.ssl_context()
    sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", server.ports["imaps"])), server_hostname="localhost")
    f = sock.makefile("rwb", buffering=0)
    f.readline()
    f.write(f"L LOGIN {server.user} \"{server.password}\"\r\n".encode())
    assert f.readline().startswith(b"L OK")
    return sock, f


def read_tagged(f, tag):
    """Reads up to the tagged reply; returns the text with every literal as (opening, octets)."""
    out = []
    while True:
        line = f.readline()
        assert line, "connection closed"
        m = re.search(rb"(~?)\{(\d+)\}\r\n$", line)
        if m:
            out.append((line[:m.start()] + m.group(1) + b"{" + m.group(2) + b"}", f.read(int(m.group(2)))))
            continue
        out.append((line, None))
        if line.startswith(tag + b" "):
            return out


def test_fetch_of_nul_octets_literal_or_literal8_rfc3516_4_3(server):
    """RFC 3501 §9 / RFC 9051 §4.3: a {n} literal carries no NUL, and BODY[] / RFC822 are never a
    literal8 [RFC 9051 §7.5.2]: NUL goes out as 0x80, the length unchanged. BINARY[] holding NUL is a
    literal8 ~{n} with the exact octets [RFC 3516 §4.3]. The message comes in as a literal8 APPEND."""
    body = b"\x00-\xe4\r\nbinary\x00data\r\n"
    msg = (b"From: a@example.test\r\nTo: demo@example.test\r\nSubject: nul\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n" + body)
    sock, f = raw_session(server)
    try:
        f.write(b"a APPEND INBOX ~{%d}\r\n" % len(msg))
        assert f.readline().startswith(b"+ ")
        f.write(msg + b"\r\n")
        assert read_tagged(f, b"a")[-1][0].startswith(b"a OK")
        f.write(b"b SELECT INBOX\r\n")
        assert read_tagged(f, b"b")[-1][0].startswith(b"b OK")
        f.write(b"c FETCH 1 (BODY.PEEK[] BODY.PEEK[1] BODY.PEEK[TEXT]<5.10> RFC822.SIZE)\r\n")
        reply = read_tagged(f, b"c")
        assert reply[-1][0].startswith(b"c OK"), reply
        literals = [(opening, data) for opening, data in reply if data is not None]
        assert [o.split(b" ")[-2:] for o, _ in literals] == [
            [b"(BODY[]", b"{%d}" % len(msg)], [b"BODY[1]", b"{%d}" % len(body)], [b"BODY[TEXT]<5>", b"{10}"]], literals
        assert literals[0][1] == msg.replace(b"\x00", b"\x80")
        assert literals[1][1] == body.replace(b"\x00", b"\x80")
        assert literals[2][1] == b"binary\x80dat"
        assert b"RFC822.SIZE %d" % len(msg) in b"".join(o for o, _ in reply)
        assert not any(b"\x00" in (data or b"") for _, data in reply)
        f.write(b"d FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1] BINARY.PEEK[1]<5.6> BINARY.PEEK[1]<5.10>)\r\n")
        reply = read_tagged(f, b"d")
        assert reply[-1][0].startswith(b"d OK"), reply
        literals = [(opening, data) for opening, data in reply if data is not None]
        assert literals[0][0].endswith(b"BINARY[1] ~{%d}" % len(body)) and literals[0][1] == body, literals
        assert literals[1][0].endswith(b"BINARY[1]<5> {6}") and literals[1][1] == b"binary", literals
        assert literals[2][0].endswith(b"BINARY[1]<5> ~{10}") and literals[2][1] == b"binary\x00dat", literals
        assert b"BINARY.SIZE[1] %d" % len(body) in b"".join(o for o, _ in reply)
        f.write(b"e NOOP\r\n")
        assert read_tagged(f, b"e")[-1][0] == b"e OK NOOP completed\r\n"
    finally:
        sock.close()


def test_appendlimit_and_literal_size_at_n_and_n_plus_1(server):
    server.stop()
    with open(server.config, "a") as cfg:
        cfg.write("\n[imap]\nmax_message_size = 4096\n")
    server.start()
    c = connect(server)
    assert "APPENDLIMIT=4096" in c.capabilities or b"APPENDLIMIT=4096" in ok(c.capability())[0]
    body = b"Subject: n\r\n\r\n" + b"x" * (4096 - 14)
    assert len(body) == 4096
    typ, data = c.append("INBOX", None, None, body)
    assert typ == "OK", data
    typ, data = c.append("INBOX", None, None, body + b"y")
    assert typ == "NO" and b"[TOOBIG]" in data[0], data
    c.logout()
    # Raw: the N+1 synchronizing literal is refused before any byte of it is sent; the session
    # goes on. A non-synchronizing literal over the limit closes the connection.
    sock, f = raw_session(server)
    f.write(b"a APPEND INBOX {4097}\r\n")
    assert f.readline().startswith(b"a NO [TOOBIG]")
    f.write(b"b NOOP\r\n")
    assert f.readline() == b"b OK NOOP completed\r\n"
    f.write(b"c APPEND INBOX {4097+}\r\n")
    assert f.readline().startswith(b"* BYE [TOOBIG]")
    sock.close()


def read_response(f, tag):
    """Everything up to and including the tagged reply of `tag`, literals read by their announced size."""
    out = b""
    while True:
        line = f.readline()
        assert line, "connection closed"
        out += line
        m = re.search(rb"~?\{(\d+)\}\r\n$", line)
        if m:
            n = int(m.group(1))
            data = b""
            while len(data) < n:
                data += f.read(n - len(data))
            out += data
            continue
        if line.startswith(tag + b" "):
            return out


def test_binary_append_literal8_is_stored_byte_for_byte_rfc3516(server):
    """RFC 3516 section 4.3: APPEND with a literal8 (~{n}) sends binary data, kept as sent: a bare LF in
    a binary part stays one byte, so BINARY.SIZE[1] is 7 for 7 bytes (it was 9, the LFs made CRLF) and
    BINARY[1] and BINARY[] give back the exact bytes (issue 27 defect 2). The same message as an
    ordinary literal still gets CRLF line ends."""
    part = b"a\nb\ncde"
    msg = (b"From: a@example.test\r\nSubject: binary\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
           b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
           + part + b"\r\n--b--\r\n")
    sock, f = raw_session(server)
    f.write(b"s SELECT INBOX\r\n")
    read_response(f, b"s")
    f.write(b"a APPEND INBOX ~{%d}\r\n" % len(msg))
    assert f.readline().startswith(b"+")
    f.write(msg + b"\r\n")
    reply = read_response(f, b"a").splitlines()[-1]
    assert reply.startswith(b"a OK [APPENDUID "), reply
    uid = int(reply.split(b"]")[0].split()[-1])
    f.write(b"b UID FETCH %d (RFC822.SIZE BINARY.SIZE[1] BINARY.PEEK[1] BINARY.PEEK[])\r\n" % uid)
    reply = read_response(f, b"b")
    assert b"RFC822.SIZE %d " % len(msg) in reply, reply
    assert b"BINARY.SIZE[1] 7 " in reply, reply
    assert b"BINARY[1] {7}\r\n" + part + b" " in reply or b"BINARY[1] ~{7}\r\n" + part + b" " in reply, reply
    assert b"BINARY[] {%d}\r\n" % len(msg) + msg + b")" in reply or \
        b"BINARY[] ~{%d}\r\n" % len(msg) + msg + b")" in reply, reply
    # An ordinary literal: line ends normalised as before.
    f.write(b"c APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
    reply = read_response(f, b"c").splitlines()[-1]
    assert reply.startswith(b"c OK [APPENDUID "), reply
    uid = int(reply.split(b"]")[0].split()[-1])
    f.write(b"d UID FETCH %d (BINARY.SIZE[1] BINARY.PEEK[1])\r\n" % uid)
    reply = read_response(f, b"d")
    assert b"BINARY.SIZE[1] 9 " in reply and b"a\r\nb\r\ncde" in reply, reply
    sock.close()


def test_curl_list_fetch_append(server, tmp_path):
    c = connect(server)
    ok(c.append("INBOX", None, None, SIMPLE))
    c.logout()
    port = server.ports["imap"]
    base = ["curl", "-s", "--max-time", "30", "--ssl-reqd", "--cacert", str(server.cert),
            "--resolve", f"localhost:{port}:127.0.0.1", "-u", f"{server.user}:{server.password}"]
    proc = subprocess.run(base + [f"imap://localhost:{port}/"], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert b'* LIST (\\HasNoChildren) "/" INBOX' in proc.stdout, proc.stdout
    proc = subprocess.run(base + [f"imap://localhost:{port}/INBOX;UID=1"], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == SIMPLE
    # curl APPEND (upload; curl needs the size up front, so from a file).
    upload = tmp_path / "upload.eml"
    upload.write_bytes(SIMPLE)
    proc = subprocess.run(base + ["-T", str(upload), f"imap://localhost:{port}/Drafts"], capture_output=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    c = connect(server)
    assert ok(c.status("Drafts", "(MESSAGES)")) == [b"Drafts (MESSAGES 1)"]
    c.logout()


@pytest.mark.skipif(shutil.which("mbsync") is None, reason="isync (mbsync) not installed")
@pytest.mark.parametrize("tls", ["IMAPS", "STARTTLS"])
def test_mbsync_both_ways(server, tmp_path, tls):
    c = connect(server)
    ok(c.append("INBOX", None, None, SIMPLE))
    ok(c.append("INBOX", r"(\Flagged)", None, MULTIPART))
    c.logout()
    maildir = tmp_path / "mail"
    maildir.mkdir()
    port = server.ports["imaps" if tls == "IMAPS" else "imap"]
    rc = tmp_path / "mbsyncrc"
    rc.write_text(f"""IMAPAccount posthorn
Host localhost
Port {port}
User {server.user}
Pass "{server.password}"
SSLType {tls}
CertificateFile {server.cert}
AuthMechs LOGIN

IMAPStore remote
Account posthorn

MaildirStore local
Path {maildir}/
Inbox {maildir}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns INBOX
Create Both
SyncState *
Sync All
Expunge Both
""")

    def normal(data):
        # mbsync stores LF line ends and adds an X-TUID header of its own.
        return re.sub(rb"X-TUID: [^\n]*\n", b"", data.replace(b"\r\n", b"\n"))

    def mbsync():
        proc = subprocess.run(["mbsync", "-c", str(rc), "-a"], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    mbsync()
    files = sorted((maildir / "INBOX" / "cur").iterdir()) + sorted((maildir / "INBOX" / "new").iterdir())
    assert len(files) == 2
    contents = sorted(normal(f.read_bytes()) for f in files)
    assert contents == sorted([normal(SIMPLE), normal(MULTIPART)])
    flagged = [f for f in files if normal(f.read_bytes()) == normal(MULTIPART)][0]
    assert "F" in flagged.name.split(":2,")[-1]
    # Local changes go up: a new message and a flag change.
    new_msg = b"From: local@example.test\r\nSubject: from maildir\r\n\r\nup\r\n"
    (maildir / "INBOX" / "new" / "12345.local.host").write_bytes(new_msg)
    simple = [f for f in files if normal(f.read_bytes()) == normal(SIMPLE)][0]
    base, _, flags = simple.name.partition(":2,")
    simple.rename(simple.parent.parent / "cur" / (base + ":2," + "".join(sorted(set(flags + "RS")))))
    mbsync()
    c = connect(server)
    ok(c.select("INBOX"))
    data = ok(c.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
    text = b"".join(d[0] + d[1] if isinstance(d, tuple) else d for d in data)
    assert b"Subject: from maildir" in text
    assert re.search(rb"FLAGS \([^)]*\\Answered[^)]*\\Seen", text), text
    # A server-side change comes down.
    ok(c.store("3", "+FLAGS", r"(\Flagged)"))
    c.logout()
    mbsync()
    files = list((maildir / "INBOX" / "cur").iterdir()) + list((maildir / "INBOX" / "new").iterdir())
    up = [f for f in files if b"Subject: from maildir" in f.read_bytes()]
    assert up and "F" in up[0].name.split(":2,")[-1], [f.name for f in files]


def test_utf8_accept_mailbox_names(server):
    u = connect(server)
    # imaplib checks the capabilities it saw before login: ENABLE is among them (issue 28 item 8).
    typ, data = u.enable("UTF8=ACCEPT")
    assert typ == "OK"
    ok(u._simple_command("CREATE", '"Gr\u00fc\u00dfe"'))
    names = [d.decode("utf-8") for d in ok(u.list('""', "Gr*"))]
    assert names == ['(\\HasNoChildren) "/" "Gr\u00fc\u00dfe"'], names
    u.logout()
    # A client without UTF8=ACCEPT sees the same mailbox in modified UTF-7.
    c = connect(server)
    assert [d.decode() for d in ok(c.list('""', "Gr*"))] == ['(\\HasNoChildren) "/" Gr&APwA3w-e']
    ok(c.select("Gr&APwA3w-e"))
    c.logout()


def test_search_sort_thread_with_imaplib_and_curl(server):
    c = connect(server)
    msgs = [
        (b"From: Zed <z@example.test>\r\nSubject: beta\r\nMessage-ID: <a@x>\r\n"
         b"Date: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\nthe quick brown fox\r\n", r"(\Seen)"),
        (b"From: Amy <a@example.test>\r\nSubject: Re: beta\r\nMessage-ID: <b@x>\r\nIn-Reply-To: <a@x>\r\n"
         b"Date: Tue, 3 Nov 2026 10:00:00 +0000\r\n\r\nlazy dog\r\n", None),
        (b"From: Bob <b@example.test>\r\nSubject: alpha\r\nMessage-ID: <c@x>\r\n"
         b"Date: Wed, 4 Nov 2026 10:00:00 +0000\r\n\r\n" + b"x" * 5000 + b"\r\n", r"(\Flagged)"),
        (NON_ASCII, None),
    ]
    for body, flags in msgs:
        ok(c.append("INBOX", flags, None, body))
    ok(c.select("INBOX"))
    assert ok(c.search(None, "UNSEEN")) == [b"2 3 4"]
    assert ok(c.uid("SEARCH", "BODY", "fox")) == [b"1"]
    assert ok(c.search(None, "LARGER", "4000")) == [b"3"]
    assert ok(c.search(None, "SENTSINCE", "3-Nov-2026", "SENTBEFORE", "5-Nov-2026", "NOT", "FLAGGED")) == [b"2"]
    assert ok(c.search(None, "HEADER", "In-Reply-To", "<a@x>")) == [b"2"]
    # UTF-8 search text as a literal, i;unicode-casemap folding over the decoded header and body.
    c.literal = "GRÜ".encode()
    assert ok(c.search("UTF-8", "SUBJECT")) == [b"4"]
    c.literal = "KÖLN".encode()
    assert ok(c.search("UTF-8", "BODY")) == [b"4"]
    typ, data = c.search("KOI8-R", "ALL")
    assert typ == "NO" and b"[BADCHARSET" in data[0]
    assert ok(c.sort("(SUBJECT)", "UTF-8", "ALL")) == [b"3 1 2 4"]
    assert ok(c.sort("(REVERSE DATE)", "UTF-8", "ALL")) == [b"4 3 2 1"]
    assert ok(c.thread("REFERENCES", "UTF-8", "ALL"))[0].startswith(b"(1 2)(3)")
    # ESEARCH and SEARCHRES.
    typ, data = c._simple_command("SEARCH", "RETURN", "(MIN MAX COUNT SAVE)", "UNSEEN")
    assert typ == "OK"
    esearch = c.untagged_responses.pop("ESEARCH")[0]
    assert esearch.startswith(b'(TAG "') and esearch.endswith(b'") MIN 2 MAX 4 COUNT 3'), esearch
    ok(c.store("$", "+FLAGS", r"(\Answered)"))
    assert ok(c.search(None, "ANSWERED")) == [b"2 3 4"]
    c.logout()
    # curl turns a URL query into a SEARCH.
    port = server.ports["imap"]
    proc = subprocess.run(["curl", "-s", "--max-time", "30", "--ssl-reqd", "--cacert", str(server.cert),
                           "--resolve", f"localhost:{port}:127.0.0.1", "-u", f"{server.user}:{server.password}",
                           f"imap://localhost:{port}/INBOX?ANSWERED%20FLAGGED"], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == b"* SEARCH 3", proc.stdout
