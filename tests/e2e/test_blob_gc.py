"""Blob garbage collection while serving, issue 28 item 5: expunged mail frees its disk space without a
restart. With [store] gc_interval = 1, the message files of expunged messages disappear from
data/blobs while the server keeps running, /metrics counts the blobs and bytes freed, and the same
bytes delivered again afterwards are stored and readable."""
import imaplib
import smtplib

import pytest

from conftest import PASSWORD, USER, Server, wait_for


@pytest.fixture
def srv(tmp_path):
    s = Server(tmp_path / "srv")
    s.init()
    with s.config.open("a") as f:
        f.write("\n[store]\ngc_interval = 1\n")
    s.start()
    yield s
    rc = s.stop()
    assert rc == 0, f"serve exited with {rc}; log:\n{s.log_text()[-4000:]}"


def blob_files(srv):
    root = srv.root / "data" / "blobs"
    return sorted(p for p in root.glob("??/??/*") if p.is_file())


def message(i):
    return f"From: sender@example.org\r\nTo: {USER}\r\nSubject: gc {i}\r\n\r\n" + f"body {i}\r\n" * 2000


def test_expunged_mail_frees_its_blobs_while_serving(srv):
    before = set(blob_files(srv))
    with smtplib.SMTP("localhost", srv.ports["mx"], timeout=30) as smtp:
        smtp.ehlo("client.example")
        for i in range(3):
            assert smtp.sendmail("sender@example.org", [USER], message(i)) == {}
    new = set(blob_files(srv)) - before
    assert len(new) == 3
    sizes = {p: p.stat().st_size for p in new}
    freed_before = srv.metric("posthorn_blob_gc_bytes_freed_total")
    removed_before = srv.metric("posthorn_blob_gc_blobs_removed_total")

    imap = imaplib.IMAP4("localhost", srv.ports["imap"], timeout=30)
    imap.login(USER, PASSWORD)
    imap.select("INBOX")
    assert imap.store("1:2", "+FLAGS", "(\\Deleted)")[0] == "OK"
    assert imap.expunge()[0] == "OK"
    # The server keeps running: two files go, the third message's stays.
    wait_for(lambda: len(set(blob_files(srv)) & new) == 1, timeout=15, what="the expunged messages' blobs to go")
    gone = new - set(blob_files(srv))
    # The counters are added at the end of the collection, just after the unlinks.
    wait_for(lambda: srv.metric("posthorn_blob_gc_blobs_removed_total") >= removed_before + 2, timeout=15,
             what="the collection's metrics")
    assert srv.metric("posthorn_blob_gc_bytes_freed_total") >= freed_before + sum(sizes[p] for p in gone)
    typ, data = imap.fetch("1", "(BODY[])")
    assert typ == "OK" and b"Subject: gc 2" in data[0][1]

    # The same bytes again: stored anew and readable (no stale "already there" after the removal).
    with smtplib.SMTP("localhost", srv.ports["mx"], timeout=30) as smtp:
        smtp.ehlo("client.example")
        assert smtp.sendmail("sender@example.org", [USER], message(0)) == {}
    imap.noop()
    typ, data = imap.fetch("2", "(BODY[])")
    assert typ == "OK" and b"Subject: gc 0" in data[0][1], data
    imap.logout()
