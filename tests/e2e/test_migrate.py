"""posthorn migrate (issue 20 item 3): a whole installation moves from SQLite to PostgreSQL and back
so that clients do not resync. Mail is delivered over SMTP and APPENDed over IMAP to a SQLite server,
flagged, expunged, subscribed; UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ (CONDSTORE), every message's
UID, MODSEQ, flags, internal date and SHA-256 are noted; the server stops, migrates to an empty
PostgreSQL database (a private PostgreSQL 15, pgserver.py: without it the test fails, never skips),
starts on it, and a login with the same password sees exactly the same; a new delivery takes the
next UID; a deferred outbound message is still queued. Then back into a fresh SQLite data folder and
the same checks again. A non-empty target is refused with one line and exit 1; a URL's password is
never printed."""
import hashlib
import imaplib
import json
import re
import smtplib
import uuid

import pytest

from conftest import PASSWORD, USER, Server
from pgserver import PgServer

HOST = "127.0.0.1"


@pytest.fixture(scope="module")
def pg():
    server = PgServer()
    yield server
    server.stop()


def ok(result):
    typ, data = result
    assert typ == "OK", (typ, data)
    return data


def message(subject, body="hello\r\n", sender="a@example.org"):
    return (f"From: {sender}\r\nTo: {USER}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@example.org>\r\n\r\n{body}").encode()


def login(node):
    c = imaplib.IMAP4(HOST, node.ports["imap"], timeout=30)
    ok(c.login(USER, PASSWORD))  # the same password on every backend
    return c


def mailbox_names(c):
    names = []
    for line in ok(c.list()):
        m = re.match(rb'\((.*?)\) (?:"."|NIL) (.*)$', line)
        assert m, line
        names.append(m.group(2).strip(b'"').decode())
    return sorted(names)


def snapshot(node):
    """Everything a client caches: per mailbox its STATUS and per message UID, MODSEQ, flags
    (\\Recent aside: a per-session notion), internal date and the SHA-256 of its bytes; the
    subscriptions."""
    c = login(node)
    out = {"mailboxes": {}}
    for name in mailbox_names(c):
        status = ok(c.status(name, "(MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)"))[0].decode()
        values = dict(re.findall(r"([A-Z]+) (\d+)", status.split("(", 1)[1]))
        ok(c.select(name, readonly=True))
        messages = []
        typ, data = c.uid("FETCH", "1:*", "(UID FLAGS MODSEQ INTERNALDATE BODY.PEEK[])")
        assert typ == "OK", data
        for item in data:
            if not isinstance(item, tuple):
                continue
            head, body = item
            head = head.decode()
            flags = sorted(f for f in re.search(r"FLAGS \(([^)]*)\)", head).group(1).split() if f != "\\Recent")
            messages.append({
                "uid": int(re.search(r"UID (\d+)", head).group(1)),
                "modseq": int(re.search(r"MODSEQ \((\d+)\)", head).group(1)),
                "flags": flags,
                "internaldate": re.search(r'INTERNALDATE "([^"]+)"', head).group(1),
                "sha256": hashlib.sha256(body).hexdigest(),
            })
        c.close()
        out["mailboxes"][name] = {"status": values, "messages": sorted(messages, key=lambda m: m["uid"])}
    out["subscribed"] = sorted(re.match(rb'\((.*?)\) (?:"."|NIL) (.*)$', line).group(2).strip(b'"').decode()
                               for line in ok(c.lsub()))
    c.logout()
    return out


def queued(node):
    return [(e["id"], e["sender"], [r["address"] for r in e["recipients"]])
            for e in json.loads(node.cli("queue", "list", "--json").stdout)]


def deliver(node, subject):
    with smtplib.SMTP(HOST, node.ports["mx"], timeout=30) as smtp:
        assert smtp.sendmail("a@example.org", [USER], message(subject)) == {}


def database_url(pg, name):
    """A URL of a new database, with a password (ignored by the trusting test server) that no output
    may show."""
    pg.psql(f"CREATE DATABASE {name}")
    base = pg.url.rsplit("/", 1)[0]
    assert base.startswith("postgresql://postgres@"), base
    return base.replace("postgres@", "postgres:s3cret@", 1) + "/" + name


def migrate(node, to, check=True):
    proc = node.cli("migrate", "--to", to, check=False)
    assert "s3cret" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_migrate_to_postgresql_and_back_keeps_what_clients_cache(tmp_path, pg):
    node = Server(tmp_path / "srv")
    node.init()
    # Remote delivery fails for now (a resolver on a closed port): the outbound message stays queued.
    with node.config.open("a") as f:
        f.write('\n[dns]\nresolver = "127.0.0.1:9"\ntimeout = 1\n')
    sqlite_config = node.config.read_text()
    node.start()

    for i in range(4):
        deliver(node, f"delivered {i}")
    c = login(node)
    ok(c.create("Work"))
    ok(c.create("Work/2026"))
    for i in range(3):
        ok(c.append("Work", r"(\Draft $Label1)", imaplib.Time2Internaldate(1600000000 + i), message(f"appended {i}")))
    ok(c.append("Work/2026", None, None, message("big", "x" * 200000 + "\r\n")))
    ok(c.select("INBOX"))
    ok(c.uid("STORE", "1", "+FLAGS", r"(\Seen \Answered)"))
    ok(c.uid("STORE", "2", "+FLAGS", r"(\Flagged Important)"))
    ok(c.uid("STORE", "3", "+FLAGS", r"(\Deleted)"))
    ok(c.expunge())  # UIDNEXT now lies above the last UID; MODSEQs differ per message
    ok(c.unsubscribe("Junk"))
    ok(c.subscribe("Work"))
    ok(c.subscribe("Gone/never-created"))
    ok(c.delete("Archive"))
    c.logout()
    with smtplib.SMTP(HOST, node.ports["submission"], timeout=30) as smtp:
        smtp.ehlo("client.example")
        smtp.login(USER, PASSWORD)
        assert smtp.sendmail(USER, ["far@remote.example"], message("outbound", sender=USER)) == {}
    node.cli("dkim", "generate", "example.test", "--selector", "mv")
    keys_before = node.cli("dkim", "list").stdout
    assert keys_before.count("\n") == 2, keys_before
    before = snapshot(node)
    queue_before = queued(node)
    assert len(queue_before) == 1 and queue_before[0][2] == ["far@remote.example"]
    assert before["mailboxes"]["INBOX"]["status"]["MESSAGES"] == "3"
    assert "Archive" not in before["mailboxes"] and "Work/2026" in before["mailboxes"]
    assert node.stop() == 0

    # SQLite -> PostgreSQL.
    url = database_url(pg, "m_" + uuid.uuid4().hex[:12])
    done = migrate(node, url)
    summary = done.stdout
    assert "1 accounts, 7 mailboxes, 7 messages" in summary, summary
    assert "1 queue entries, 2 DKIM keys" in summary and "verified" in summary, summary
    again = migrate(node, url, check=False)
    assert again.returncode == 1
    assert len(again.stderr.strip().splitlines()) == 1 and "not empty" in again.stderr, again.stderr

    node.config.write_text(sqlite_config + f'\n[store]\nbackend = "postgresql"\nurl = "{url}"\npool_size = 4\n')
    assert node.cli("dkim", "list").stdout == keys_before  # now read from the database
    node.start()
    on_pg = snapshot(node)
    assert on_pg == before
    assert queued(node)[0][:3] == queue_before[0]
    deliver(node, "after the move")
    c = login(node)
    ok(c.select("INBOX", readonly=True))
    uids = [int(u) for u in ok(c.uid("SEARCH", None, "ALL"))[0].split()]
    next_uid = int(before["mailboxes"]["INBOX"]["status"]["UIDNEXT"])
    assert uids[-1] == next_uid, (uids, next_uid)
    c.logout()
    after_pg = snapshot(node)
    assert after_pg["mailboxes"]["INBOX"]["status"]["UIDVALIDITY"] == before["mailboxes"]["INBOX"]["status"]["UIDVALIDITY"]
    assert int(after_pg["mailboxes"]["INBOX"]["status"]["HIGHESTMODSEQ"]) > int(
        before["mailboxes"]["INBOX"]["status"]["HIGHESTMODSEQ"])
    queue_pg = queued(node)
    assert node.stop() == 0

    # PostgreSQL -> a fresh SQLite data folder.
    back = tmp_path / "srv" / "data2"
    done = migrate(node, f"sqlite:{back}")
    assert "8 messages" in done.stdout and "2 DKIM keys" in done.stdout and "verified" in done.stdout, done.stdout
    assert sorted(p.name for p in (back / "dkim" / "example.test").iterdir()) == ["mv-ed25519.pem", "mv-rsa.pem"]
    refused = migrate(node, f"sqlite:{back}", check=False)
    assert refused.returncode == 1 and "not empty" in refused.stderr, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr

    node.config.write_text(sqlite_config.replace('data_dir = "data"', 'data_dir = "data2"'))
    node.start()
    assert snapshot(node) == after_pg
    assert [q[:3] for q in queued(node)] == [q[:3] for q in queue_pg]
    deliver(node, "back on sqlite")
    c = login(node)
    ok(c.select("INBOX", readonly=True))
    uids = [int(u) for u in ok(c.uid("SEARCH", None, "ALL"))[0].split()]
    assert uids[-1] == next_uid + 1, uids
    c.logout()
    assert node.stop() == 0


def test_migrate_refuses_bad_targets(tmp_path):
    node = Server(tmp_path / "srv")
    node.init()
    bad = node.cli("migrate", "--to", "mysql://x", check=False)
    assert bad.returncode == 2 and "--to must be" in bad.stderr, bad.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("x")
    full = node.cli("migrate", "--to", f"sqlite:{tmp_path / 'full'}", check=False)
    assert full.returncode == 1 and "not empty" in full.stderr, full.stderr
    same = node.cli("migrate", "--to", f"sqlite:{node.root / 'data'}", check=False)
    assert same.returncode == 1 and "itself" in same.stderr, same.stderr
