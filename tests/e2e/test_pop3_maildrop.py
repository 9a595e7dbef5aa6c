"""End-to-end POP3 maildrop: the real binary with real clients (Python poplib over STLS and POP3S,
curl, a raw socket for pipelining). Mail gets into INBOX with `posthorn import mbox` while the server
runs. Covers RFC 1939 (STAT, LIST, RETR, TOP, UIDL, DELE, RSET, QUIT/UPDATE), the maildrop lock
(RFC 2449 IN-USE), the delete / keep / keep:DAYS policies (server-wide and per user), UIDL stability
across sessions and restarts, and the memory a large RETR uses."""
import os
import imaplib
import poplib
import re
import socket
import subprocess
import time

import pytest

from conftest import Server

HOST = "localhost"  # the certificate is issued for "localhost"

MESSAGES = [
    b"From: a@example.test\r\nSubject: one\r\n\r\nhello\r\n.dotted line\r\n..two dots\r\n.\r\nend\r\n",
    b"From: b@example.test\r\nSubject: two\r\n\r\nline 1\r\nline 2\r\nline 3\r\n",
    "From: c@example.test\r\nSubject: =?UTF-8?Q?dr=C3=A8i?=\r\n\r\nd\u00e9j\u00e0 vu\r\n".encode(),
]


def import_messages(server, tmp_path, messages, name="in.mbox"):
    """Puts `messages` into the user's INBOX with `posthorn import mbox` (the server may run)."""
    path = tmp_path / name
    with open(path, "wb") as f:
        for m in messages:
            f.write(b"From sender@example.test Thu Nov 26 10:00:00 2026\n")
            f.write(m.replace(b"\r\n", b"\n"))
            if not m.endswith(b"\n"):
                f.write(b"\n")
            f.write(b"\n")
    server.cli("import", "mbox", server.user, str(path))


def login(server, implicit=False):
    if implicit:
        pop = poplib.POP3_SSL(HOST, server.ports["pop3s"], context=server.ssl_context(), timeout=20)
    else:
        pop = poplib.POP3(HOST, server.ports["pop3"], timeout=20)
        pop.stls(context=server.ssl_context())
    pop.user(server.user)
    assert pop.pass_(server.password) == b"+OK Logged in."
    return pop


def body(lines):
    return b"".join(line + b"\r\n" for line in lines)


@pytest.mark.parametrize("implicit", [False, True], ids=["stls", "pop3s"])
def test_every_command(server, tmp_path, implicit):
    import_messages(server, tmp_path, MESSAGES)
    pop = login(server, implicit)
    try:
        sizes = [len(m) for m in MESSAGES]
        assert pop.stat() == (3, sum(sizes))
        resp, listing, _ = pop.list()
        assert resp == b"+OK Scan listing follows"
        assert listing == [f"{i + 1} {s}".encode() for i, s in enumerate(sizes)]
        assert pop.list(2) == f"+OK 2 {sizes[1]}".encode()
        resp, lines, octets = pop.retr(1)
        assert resp == f"+OK {sizes[0]} octets".encode()
        assert body(lines) == MESSAGES[0]  # poplib undoes the dot-stuffing
        _, lines, _ = pop.retr(3)
        assert body(lines) == MESSAGES[2]
        _, lines, _ = pop.top(2, 1)
        assert body(lines) == b"From: b@example.test\r\nSubject: two\r\n\r\nline 1\r\n"
        _, uidls, _ = pop.uidl()
        assert len(uidls) == 3 and len({u.split()[1] for u in uidls}) == 3
        assert pop.uidl(2) == b"+OK " + uidls[1]
        assert pop.dele(2) == b"+OK Marked to be deleted"
        with pytest.raises(poplib.error_proto, match="Message is deleted"):
            pop.retr(2)
        assert pop.stat() == (2, sizes[0] + sizes[2])
        assert pop.rset() == b"+OK Maildrop has 3 messages"
        assert pop.stat() == (3, sum(sizes))
        with pytest.raises(poplib.error_proto, match="No such message"):
            pop.retr(4)
        assert pop.noop() == b"+OK"
        pop.dele(1)
        assert pop.quit() == b"+OK Bye"
    finally:
        pop.close()
    pop = login(server, implicit)
    try:
        assert pop.stat() == (2, sizes[1] + sizes[2])
        _, after, _ = pop.uidl()
        assert [u.split()[1] for u in after] == [u.split()[1] for u in uidls[1:]]  # stable, renumbered
        pop.quit()
    finally:
        pop.close()


def test_sasl_plain_and_dropped_connection_deletes_nothing(server, tmp_path):
    import_messages(server, tmp_path, MESSAGES[:2])
    pop = poplib.POP3_SSL(HOST, server.ports["pop3s"], context=server.ssl_context(), timeout=20)
    import base64
    token = base64.b64encode(b"\0" + server.user.encode() + b"\0" + server.password.encode()).decode()
    assert pop._shortcmd("AUTH PLAIN " + token) == b"+OK Authenticated"
    pop.dele(1)
    pop.dele(2)
    pop.close()  # no QUIT: nothing happens, and the lock goes with the connection
    server.wait_idle("pop3")
    pop = login(server)
    try:
        assert pop.stat()[0] == 2
        pop.quit()
    finally:
        pop.close()


def test_maildrop_lock(server, tmp_path):
    import_messages(server, tmp_path, MESSAGES[:1])
    first = login(server)
    second = poplib.POP3(HOST, server.ports["pop3"], timeout=20)
    try:
        second.stls(context=server.ssl_context())
        second.user(server.user)
        with pytest.raises(poplib.error_proto) as e:
            second.pass_(server.password)
        assert e.value.args[0] == b"-ERR [IN-USE] Maildrop is locked by another session"
        first.quit()
        second.user(server.user)
        assert second.pass_(server.password) == b"+OK Logged in."
        assert second.stat()[0] == 1
        second.quit()
    finally:
        first.close()
        second.close()


def test_pipelining(server, tmp_path):
    import_messages(server, tmp_path, MESSAGES[1:2])
    with socket.create_connection(("127.0.0.1", server.ports["pop3"]), timeout=20) as s:
        f = s.makefile("rb")
        assert f.readline().startswith(b"+OK")
        # Plaintext USER/PASS is allowed on loopback in --dev servers.
        s.sendall(f"USER {server.user}\r\nPASS {server.password}\r\nSTAT\r\nUIDL 1\r\nRETR 1\r\nQUIT\r\n".encode())
        assert f.readline() == b"+OK Send PASS\r\n"
        assert f.readline() == b"+OK Logged in.\r\n"
        assert f.readline() == f"+OK 1 {len(MESSAGES[1])}\r\n".encode()
        assert f.readline().startswith(b"+OK 1 ")
        assert f.readline() == f"+OK {len(MESSAGES[1])} octets\r\n".encode()
        got = b""
        while (line := f.readline()) != b".\r\n":
            got += line
        assert got == MESSAGES[1]
        assert f.readline() == b"+OK Bye\r\n"


def curl(server, path, *extra):
    port = server.ports["pop3"]
    return subprocess.run(
        ["curl", "-sS", "--ssl-reqd", "--cacert", str(server.cert), "--max-time", "20",
         "--resolve", f"localhost:{port}:127.0.0.1", f"pop3://localhost:{port}/{path}",
         "-u", f"{server.user}:{server.password}", *extra],
        capture_output=True, timeout=60)


def test_curl_list_retr_dele(server, tmp_path):
    import_messages(server, tmp_path, MESSAGES)
    listing = curl(server, "")
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.split(b"\r\n")[:3] == [f"{i + 1} {len(m)}".encode() for i, m in enumerate(MESSAGES)]
    retr = curl(server, "2")
    assert retr.returncode == 0, retr.stderr
    assert retr.stdout == MESSAGES[1]
    dele = curl(server, "1", "-X", "DELE", "-I")
    assert dele.returncode == 0, dele.stderr
    after = curl(server, "")
    assert len([line for line in after.stdout.split(b"\r\n") if line]) == 2


def test_keep_policy_per_user_and_uidl_across_restart(server, tmp_path):
    import_messages(server, tmp_path, MESSAGES[:2])
    r = server.cli("user", "pop3", server.user, "keep")
    assert "set the POP3 policy of" in r.stdout
    pop = login(server)
    try:
        assert "EXPIRE" in pop.capa()
        _, uidls, _ = pop.uidl()
        pop.retr(1)
        pop.dele(1)
        pop.quit()
    finally:
        pop.close()
    pop = login(server)
    try:
        assert pop.stat()[0] == 1  # hidden from POP3
        pop.quit()
    finally:
        pop.close()
    # Still in the store for IMAP and other devices: an export finds both messages.
    out = tmp_path / "export"
    server.cli("export", "maildir", server.user, str(out))
    exported = [p for p in out.rglob("*") if p.is_file() and p.parent.name in ("cur", "new")]
    assert len(exported) == 2
    # Back to the server's policy (delete).
    assert "follows the server's POP3 policy (delete)" in server.cli("user", "pop3", server.user, "default").stdout
    bad = server.cli("user", "pop3", server.user, "keep:0", check=False)
    assert bad.returncode == 1 and "is not a POP3 policy" in bad.stderr

    # A restart keeps every UIDL.
    assert server.stop() == 0
    server.start()
    pop = login(server)
    try:
        _, again, _ = pop.uidl()
        assert again[0].split()[1] == uidls[1].split()[1]
        pop.quit()
    finally:
        pop.close()


def test_keep_days_is_advertised(tmp_path):
    s = Server(tmp_path / "srv")
    s.init()
    with open(s.config, "a") as f:
        f.write('\n[pop3]\npolicy = "keep:14"\n')
    s.start()
    try:
        pop = poplib.POP3(HOST, s.ports["pop3"], timeout=20)
        try:
            assert pop.capa()["EXPIRE"] == ["14", "USER"]
            pop.stls(context=s.ssl_context())
            pop.user(s.user)
            pop.pass_(s.password)
            assert pop.capa()["EXPIRE"] == ["14"]
            pop.quit()
        finally:
            pop.close()
    finally:
        assert s.stop() == 0


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_large_message_is_streamed(tmp_path):
    # A small ASan quarantine, so freed chunks are reused as in a release build and the RSS shows
    # what the session holds, not what the sanitizer keeps around.
    env_before = os.environ.get("ASAN_OPTIONS")
    os.environ["ASAN_OPTIONS"] = (env_before + ":" if env_before else "") + "quarantine_size_mb=8"
    s = Server(tmp_path / "srv")
    try:
        s.init()
        s.start()
    finally:
        if env_before is None:
            del os.environ["ASAN_OPTIONS"]
        else:
            os.environ["ASAN_OPTIONS"] = env_before
    try:
        line = b"x" * 78 + b"\r\n"
        big = b"From: big@example.test\r\nSubject: big\r\n\r\n" + line * (50 * 1024 * 1024 // len(line))
        import_messages(s, tmp_path, [big], "big.mbox")
        pop = login(s, implicit=True)
        try:
            before = rss_kib(s.proc.pid)
            pop._putcmd("RETR 1")
            assert pop._getline()[0] == f"+OK {len(big)} octets".encode()
            total = 0
            while True:
                got, _ = pop._getline()
                if got == b".":
                    break
                total += len(got) + 2
            assert total == len(big)
            grown = rss_kib(s.proc.pid) - before
            assert grown < 20 * 1024, f"RSS grew by {grown} KiB for a {len(big) >> 20} MiB RETR"
            pop.quit()
        finally:
            pop.close()
    finally:
        assert s.stop() == 0


def test_keep_policy_message_still_readable_over_imap(server, tmp_path):
    import_messages(server, tmp_path, MESSAGES[:2])
    server.cli("user", "pop3", server.user, "keep")
    pop = login(server)
    try:
        _, lines, _ = pop.retr(1)
        assert body(lines) == MESSAGES[0]
        pop.dele(1)
        assert pop.quit() == b"+OK Bye"
    finally:
        pop.close()
    imap = imaplib.IMAP4_SSL(HOST, server.ports["imaps"], ssl_context=server.ssl_context(), timeout=20)
    imap.login(server.user, server.password)
    typ, data = imap.select("INBOX")
    assert typ == "OK" and int(data[0]) == 2
    typ, data = imap.fetch("1", "(FLAGS BODY.PEEK[])")
    assert typ == "OK"
    assert b"\\Seen" in data[0][0]  # downloaded over POP3
    assert data[0][1] == MESSAGES[0]
    imap.logout()  # closes the connection
    pop = login(server)
    try:
        assert pop.stat()[0] == 1  # hidden from POP3 only
        pop.quit()
    finally:
        pop.close()
