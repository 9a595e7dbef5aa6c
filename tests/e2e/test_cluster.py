"""Two Posthorn nodes on one PostgreSQL (issue 20): `[store] backend = "postgresql"` on both, each
with its own port base and data folder (holding nothing but config and TLS keys). Mail delivered on
one node reaches IDLE on the other through LISTEN/NOTIFY; concurrent APPENDs on both never share a
UID; accounts added or removed with one node's CLI are seen by the other; POP3's maildrop lock
holds across nodes and goes with a node that dies. The database is a private
PostgreSQL 15 (scripts/pg-test-server via pgserver.py): without it these tests fail, never skip."""
import imaplib
import poplib
import smtplib
import statistics
import subprocess
import threading
import time

import pytest

from cluster import Cluster, pg, use_postgresql  # noqa: F401 (pg: the module's PostgreSQL fixture)
from conftest import BIN, PASSWORD, USER, Server, wait_for

SIMPLE = b"From: a@example.test\r\nTo: demo@example.test\r\nSubject: cluster\r\n\r\nbody\r\n"


@pytest.fixture
def cluster(tmp_path, pg):
    c = Cluster(tmp_path, pg)
    yield c
    codes = c.stop()
    for n, rc in zip(c.nodes, codes):
        assert rc == 0, f"serve exited with {rc}; log:\n{n.log_text()[-4000:]}"


def login(node):
    c = imaplib.IMAP4("127.0.0.1", node.ports["imap"], timeout=30)
    c.login(USER, PASSWORD)
    return c


def ok(result):
    typ, data = result
    assert typ == "OK", (typ, data)
    return data


def test_mail_delivered_on_one_node_reaches_idle_on_the_other(cluster):
    a, b = cluster.nodes
    watcher = login(b)
    ok(watcher.select("INBOX"))
    tag = watcher._new_tag().decode()
    watcher.send(f"{tag} IDLE\r\n".encode())
    assert watcher.readline().startswith(b"+ ")
    delays = []
    smtp = smtplib.SMTP("127.0.0.1", a.ports["mx"], timeout=30)
    for i in range(20):
        smtp.sendmail("a@example.test", [USER], SIMPLE)
        sent = time.time()
        assert watcher.readline() == f"* {i + 1} EXISTS\r\n".encode()
        delays.append(time.time() - sent)
        line = watcher.readline()  # the RECENT that follows EXISTS
        assert line == f"* {i + 1} RECENT\r\n".encode(), line
    smtp.quit()
    watcher.send(b"DONE\r\n")
    line = watcher.readline()
    while line.startswith(b"*"):
        line = watcher.readline()
    assert line == f"{tag} OK IDLE terminated\r\n".encode()
    delays.sort()
    p99 = delays[-1]
    print(f"cross-node IDLE delay: p50 {statistics.median(delays) * 1000:.1f} ms, max {p99 * 1000:.1f} ms")
    assert p99 < 0.1, delays
    data = ok(watcher.uid("SEARCH", None, "ALL"))
    assert sorted(int(u) for u in data[0].split()) == list(range(1, 21)), data
    watcher.logout()


def test_concurrent_appends_on_both_nodes_never_share_a_uid(cluster):
    per_node = 40
    errors = []

    def worker(node):
        try:
            c = login(node)
            for _ in range(per_node):
                ok(c.append("INBOX", None, None, SIMPLE))
            c.logout()
        except Exception as e:  # reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(n,)) for n in cluster.nodes for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    total = per_node * len(threads)
    for node in cluster.nodes:
        c = login(node)
        ok(c.select("INBOX"))
        uids = [int(u) for u in ok(c.uid("SEARCH", None, "ALL"))[0].split()]
        assert uids == list(range(1, total + 1))
        c.logout()


def test_accounts_changed_on_one_node_are_seen_by_the_other(cluster):
    a, b = cluster.nodes
    a.cli("user", "add", "second@example.test", "--password-stdin", input="another secret pw\n")
    c = imaplib.IMAP4("127.0.0.1", b.ports["imap"], timeout=30)
    ok(c.login("second@example.test", "another secret pw"))
    c.logout()
    # Deleted on B's CLI: no node lets it in any more, the cached login of A included.
    c = imaplib.IMAP4("127.0.0.1", a.ports["imap"], timeout=30)
    ok(c.login("second@example.test", "another secret pw"))
    c.logout()
    b.cli("user", "del", "second@example.test")
    for node in (a, b):
        c = imaplib.IMAP4("127.0.0.1", node.ports["imap"], timeout=30)
        with pytest.raises(imaplib.IMAP4.error):
            c.login("second@example.test", "another secret pw")
        c.shutdown()


def test_dkim_keys_made_on_one_node_sign_on_the_other(cluster):
    """The keys live in the database: generated with A's CLI, listed by B's, loaded by B on SIGHUP,
    and a message submitted through B is signed with them; no node has a data/dkim folder."""
    import signal
    a, b = cluster.nodes
    made = a.cli("dkim", "generate", "example.test", "--selector", "cl")
    assert "postgresql" in made.stdout, made.stdout
    listed = b.cli("dkim", "list").stdout.splitlines()
    assert [line.split("\t")[1] for line in listed] == ["cl-ed25519", "cl-rsa"], listed
    b.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "2 signing key(s) loaded" in b.log_text(), timeout=30, what="B to load the keys")
    with smtplib.SMTP("127.0.0.1", b.ports["submission"], timeout=30) as smtp:
        smtp.ehlo("client.example")
        smtp.login(USER, PASSWORD)
        msg = f"From: {USER}\r\nTo: {USER}\r\nSubject: signed in a cluster\r\n\r\nbody\r\n"
        assert smtp.sendmail(USER, [USER], msg) == {}
    c = login(a)
    ok(c.select("INBOX", readonly=True))
    wait_for(lambda: (c.noop(), ok(c.search(None, "SUBJECT", '"signed in a cluster"'))[0])[1], timeout=30,
             what="the delivery")
    num = ok(c.search(None, "SUBJECT", '"signed in a cluster"'))[0].split()[0]
    raw = ok(c.fetch(num, "(BODY.PEEK[])"))[0][1]
    c.logout()
    assert raw.count(b"DKIM-Signature:") == 2 and b"s=cl-rsa" in raw and b"s=cl-ed25519" in raw, raw[:2000]
    for node in (a, b):
        assert not (node.root / "data" / "dkim").exists()
    again = b.cli("dkim", "generate", "example.test", "--selector", "cl", check=False)
    assert again.returncode == 1 and "already exists" in again.stderr, again.stderr


def pop3_login(node):
    """A POP3 session of the user on `node`: the client, or the server's -ERR line."""
    c = poplib.POP3("127.0.0.1", node.ports["pop3"], timeout=30)
    c.user(USER)
    try:
        c.pass_(PASSWORD)
    except poplib.error_proto as e:
        c.close()
        return e.args[0]
    return c


def test_pop3_maildrop_lock_holds_across_nodes_and_goes_with_a_dead_node(cluster):
    a, b = cluster.nodes
    smtp = smtplib.SMTP("127.0.0.1", a.ports["mx"], timeout=30)
    smtp.sendmail("a@example.test", [USER], SIMPLE)
    smtp.quit()
    holder = pop3_login(a)
    assert isinstance(holder, poplib.POP3), holder
    for node in (b, a):  # the other node, and a second session on the same node
        refused = pop3_login(node)
        assert isinstance(refused, bytes) and refused.startswith(b"-ERR [IN-USE]"), refused
    # QUIT frees it before its +OK: the other node takes it at once.
    assert holder.quit().startswith(b"+OK")
    other = pop3_login(b)
    assert isinstance(other, poplib.POP3), other
    assert other.stat()[0] == 1
    # A session that drops without QUIT frees it too (in the background).
    other.close()
    wait_for(lambda: isinstance(holder := pop3_login(a), poplib.POP3) and holder.quit(), what="lock freed after a drop")
    # A node killed while it holds the lock: the database drops its locks with its connection.
    holder = pop3_login(b)
    assert isinstance(holder, poplib.POP3), holder
    b.proc.kill()
    b.proc.wait()
    wait_for(lambda: isinstance(s := pop3_login(a), poplib.POP3) and s.quit(), what="lock of the dead node freed")
    b.stop()
    b.start()
    back = pop3_login(b)
    assert isinstance(back, poplib.POP3), back
    back.quit()


def test_an_unreachable_database_stops_the_start_with_one_line_naming_it(tmp_path):
    node = Server(tmp_path / "node")
    node.init_folder()
    # A port nothing listens on (the node's own admin port before it starts).
    use_postgresql(node, f"postgresql://posthorn:s3cret@127.0.0.1:{node.ports['admin']}/mail")
    proc = subprocess.run([BIN, "--config", str(node.config), "serve"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert f"127.0.0.1:{node.ports['admin']}" in proc.stderr, proc.stderr
    assert "s3cret" not in proc.stderr + proc.stdout
