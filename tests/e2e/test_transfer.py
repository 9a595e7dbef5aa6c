"""posthorn import maildir|mbox and export maildir against the real binary (DESIGN.md §7).

A generated Maildir++ tree (plain, multipart, 8-bit, long lines, no final newline, "From " lines in
bodies, every flag, keywords, subfolders including a name with a '.') is imported, exported and
compared byte for byte with its flags and dates; an mbox is imported with --mailbox and its
malformed entry is reported and skipped; imported mail is then read back over IMAP with its flags,
keywords and dates."""
import os
import random
from pathlib import Path

import pytest

from conftest import USER

FLAG_LETTERS = "DFRST"
KEYWORDS = ["$Forwarded", "$Junk", "Work", "Later"]


def make_message(i, rng):
    kind = i % 6
    head = f"From: sender{i}@example.org\nTo: {USER}\nSubject: message {i}\nMessage-ID: <{i}@gen>\n"
    if kind == 0:
        return (head + "\nplain body\nline two\n").encode()
    if kind == 1:
        return (head + "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
                "Content-Type: text/plain\n\npart one\n--b\nContent-Type: application/octet-stream\n"
                "Content-Transfer-Encoding: base64\n\nAAEC\n--b--\n").encode()
    if kind == 2:
        return (head + "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
                "Grüße aus Köln — ✓\n").encode()
    if kind == 3:
        return (head + "\n" + "x" * (2000 + rng.randrange(5000)) + "\n").encode()
    if kind == 4:
        return (head + "\nno final newline").encode()
    return (head + "\nbefore\n\nFrom the body, a line\n>From quoted\n>>From twice\n").encode()


def flags_of(i):
    letters = "".join(c for k, c in enumerate(FLAG_LETTERS) if (i >> k) & 1)
    kws = [k for n, k in enumerate(KEYWORDS) if (i >> (n + 2)) % 3 == 0]
    return letters, kws


def write_maildir(root: Path, count: int):
    """Returns {folder: [(bytes, system letters, keywords, mtime)]} in write order."""
    rng = random.Random(7)
    folders = {"INBOX": "", "Sent": ".Sent", "Work/Sub": ".Work.Sub", "v1.0": ".v1~2e0"}
    expected = {name: [] for name in folders}
    for name, d in folders.items():
        for sub in ("cur", "new", "tmp"):
            (root / d / sub).mkdir(parents=True, exist_ok=True)
        (root / d / "dovecot-keywords").write_text("".join(f"{n} {k}\n" for n, k in enumerate(KEYWORDS)))
    names = list(folders)
    for i in range(count):
        folder = names[i % len(names)]
        body = make_message(i, rng)
        letters, kws = flags_of(i)
        kw_letters = "".join(chr(ord("a") + KEYWORDS.index(k)) for k in kws)
        fname = f"{1600000000 + i}.P1Q{i}.gen,S={len(body)}:2,{letters}{kw_letters}"
        path = root / folders[folder] / "cur" / fname
        path.write_bytes(body)
        mtime = 1500000000 + i * 61
        os.utime(path, (mtime, mtime))
        expected[folder].append((body, letters, sorted(kws, key=str.lower), mtime))
    (root / "subscriptions").write_text("V\t2\n\nSent\nWork\tSub\n")
    return expected


def read_maildir(root: Path):
    """{folder: [(bytes, letters, keywords, mtime)]} with files in name order."""
    out = {}
    for d in [root] + sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(".")):
        name = "INBOX" if d == root else d.name[1:].replace(".", "/").replace("~2e", ".")
        table = {}
        kwfile = d / "dovecot-keywords"
        if kwfile.exists():
            for line in kwfile.read_text().splitlines():
                n, k = line.split(" ", 1)
                table[chr(ord("a") + int(n))] = k
        msgs = []
        files = [f for sub in ("new", "cur") for f in (d / sub).iterdir()]
        for f in sorted(files, key=lambda p: [int(t) if t.isdigit() else t for t in
                                               __import__("re").split(r"(\d+)", p.name.split(":")[0])]):
            info = f.name.split(":2,", 1)[1] if ":2," in f.name else ""
            letters = "".join(c for c in info if c.isupper())
            kws = sorted((table[c] for c in info if c.islower()), key=str.lower)
            msgs.append((f.read_bytes(), letters, kws, int(f.stat().st_mtime)))
        out[name] = msgs
    return out


@pytest.fixture
def srv(fresh):
    fresh.init()
    return fresh


def test_maildir_import_export_round_trip(srv, tmp_path):
    src = tmp_path / "Maildir"
    expected = write_maildir(src, 2400)
    r = srv.cli("import", "maildir", USER, str(src))
    assert "imported 2,400 messages" in r.stdout, r.stdout
    assert "skipped" not in r.stdout
    for folder, msgs in expected.items():
        assert f"{folder}  " in r.stdout or f"{folder} " in r.stdout

    out = tmp_path / "export"
    r = srv.cli("export", "maildir", USER, str(out))
    assert "exported 2,400 messages" in r.stdout, r.stdout
    got = read_maildir(out)
    for folder, msgs in expected.items():
        assert got[folder] == msgs, folder
    # The account's default folders and the parent the store creates for Work/Sub are exported
    # (empty) too; nothing else appears.
    assert set(got) == set(expected) | {"Drafts", "Trash", "Junk", "Archive", "Work"}
    subs = (out / "subscriptions").read_text()
    assert "Sent\n" in subs and "Work\tSub\n" in subs

    # Exporting again into a non-empty directory is refused.
    r = srv.cli("export", "maildir", USER, str(out), check=False)
    assert r.returncode == 1 and "not empty" in r.stderr


def test_mbox_import_with_mailbox_and_malformed_entry(srv, tmp_path):
    rng = random.Random(3)
    parts, expected = [], []
    for i in range(2000):
        body = make_message(i, rng).decode()
        if not body.endswith("\n"):
            body += "\n"  # mbox cannot keep a missing final newline
        escaped = "".join((">" + line if line.lstrip(">").startswith("From ") else line)
                          for line in body.splitlines(keepends=True))
        status = "Status: RO\nX-Status: AF\n" if i % 2 else "Status: O\n"
        head, rest = escaped.split("\n\n", 1)
        parts.append(f"From sender{i}@example.org Mon Jan  2 15:04:05 2006\n{head}\n{status}\n{rest}\n")
        expected.append(i)
        if i == 1000:
            parts.append("From nowhere in particular\nSubject: broken\n\nbody\n\n")
    mbox = tmp_path / "archive.mbox"
    mbox.write_text("".join(parts))
    r = srv.cli("import", "mbox", USER, str(mbox), "--mailbox", "Lists/Archive")
    assert "imported 2,000 messages" in r.stdout, r.stdout
    assert "Lists/Archive  2,000" in r.stdout
    assert "skipped 1 entry" in r.stdout
    assert 'cannot read the date of the From line "From nowhere in particular"' in r.stdout

    out = tmp_path / "export"
    srv.cli("export", "maildir", USER, str(out))
    got = read_maildir(out)["Lists/Archive"]
    assert len(got) == 2000
    rng = random.Random(3)
    for i, (data, letters, kws, mtime) in enumerate(got):
        body = make_message(i, rng)
        if not body.endswith(b"\n"):
            body += b"\n"
        assert data == body, i
        assert letters == ("FRS" if i % 2 else ""), i
        assert mtime == 1136214245


def test_unknown_address_and_missing_source(srv, tmp_path):
    r = srv.cli("import", "maildir", "nobody@example.test", str(tmp_path), check=False)
    assert r.returncode == 1
    assert "no user nobody@example.test" in r.stderr
    r = srv.cli("import", "mbox", USER, str(tmp_path / "missing.mbox"), check=False)
    assert r.returncode == 1 and "does not exist" in r.stderr
    r = srv.cli("import", "maildir", USER, str(tmp_path / "missing"), check=False)
    assert r.returncode == 1 and "is not a directory" in r.stderr


def test_imported_messages_visible_over_imap(srv, tmp_path):
    import imaplib
    import re
    from datetime import datetime, timezone
    src = tmp_path / "Maildir"
    expected = write_maildir(src, 40)
    srv.cli("import", "maildir", USER, str(src))
    srv.start()
    try:
        c = imaplib.IMAP4("localhost", srv.ports["imap"])
        c.starttls(ssl_context=srv.ssl_context())
        c.login(srv.user, srv.password)
        system = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}
        for folder, msgs in expected.items():
            typ, data = c.select(f'"{folder}"', readonly=True)
            assert typ == "OK" and int(data[0]) == len(msgs), (folder, data)
            typ, data = c.fetch("1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
            assert typ == "OK"
            fetched = [d for d in data if isinstance(d, tuple)]
            assert len(fetched) == len(msgs)
            for (meta, body), (want, letters, kws, mtime) in zip(fetched, msgs):
                # The store keeps CRLF line ends (and completes a last line).
                assert body.rstrip(b"\r\n") == want.replace(b"\n", b"\r\n").rstrip(b"\r\n"), folder
                flags = set(re.search(rb"FLAGS \(([^)]*)\)", meta).group(1).decode().split()) - {"\\Recent"}
                assert flags == {system[x] for x in letters} | set(kws), (folder, meta)
                date = re.search(rb'INTERNALDATE "([^"]+)"', meta).group(1).decode()
                got = datetime.strptime(date, "%d-%b-%Y %H:%M:%S %z")
                assert got == datetime.fromtimestamp(mtime, timezone.utc), (date, mtime)
        c.logout()
    finally:
        srv.stop()
