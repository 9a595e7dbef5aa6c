"""Faults of a two-node cluster on one PostgreSQL (issue 20): nodes SIGKILLed during SMTP and IMAP
writes, and the database restarted under traffic. Afterwards every acknowledged message is in the
shared mailbox exactly once, nothing unacknowledged twice, every APPENDUID still names its message,
and every acknowledged submission is queued exactly once (traffic.py's ledger). While the database
is away, clients get temporary errors only (SMTP 4yz, IMAP NO [UNAVAILABLE]); the nodes stay up and
reconnect on their own, and their metrics count it. Without PostgreSQL these tests fail, never skip."""
import imaplib
import json
import os
import random
import smtplib
import threading
import time

from cluster import Cluster, pg  # noqa: F401 (pg: the module's PostgreSQL fixture)
from conftest import wait_for
from traffic import HOST, Ledger, check_ledger, inbox_subjects, message, start_clients

KILLS = int(os.environ.get("POSTHORN_CLUSTER_KILLS", "20"))
# Remote mail must wait in the queue: no DNS answers (a closed port) and long retry intervals.
HOLD_REMOTE_MAIL = ('[dns]\nresolver = "127.0.0.1:9"\ntimeout = 1\n'
                    "[delivery]\nretry_min = 3600\nretry_max = 3600\n")


def stop_clients(stop, clients):
    stop.set()
    for c in clients:
        c.join(timeout=30)
        assert not c.is_alive()


def settle(cluster, ledger, probes=None):
    """The inbox and queue as the first node sees them, checked against the ledger (without the
    messages whose subject starts with `probes`: acknowledged, but not through the ledger)."""
    a = cluster.nodes[0]
    subjects, validity = inbox_subjects(a)
    if probes:
        subjects = {uid: s for uid, s in subjects.items() if not s.startswith(probes)}
    entries = json.loads(a.cli("queue", "list", "--json").stdout)
    kinds = check_ledger(ledger, subjects, validity, entries)
    return subjects, entries, kinds


def test_sigkill_of_either_node_during_writes_loses_and_doubles_nothing(tmp_path, pg):
    cluster = Cluster(tmp_path, pg, extra_config=HOLD_REMOTE_MAIL)
    ledger = Ledger()
    stop = threading.Event()
    clients = start_clients(cluster.nodes, ledger, stop)
    rng = random.Random(int(os.environ.get("POSTHORN_TORTURE_SEED", "20")))
    try:
        for k in range(KILLS):
            time.sleep(rng.uniform(0.2, 0.8))
            victim = cluster.nodes[k % 2]
            victim.proc.kill()
            victim.proc.wait()
            victim.stop()
            victim.start()
        time.sleep(1)
    finally:
        stop_clients(stop, clients)
    subjects, entries, kinds = settle(cluster, ledger)
    codes = cluster.stop()
    print(f"cluster torture: {KILLS} SIGKILLs over 2 nodes, {len(ledger.sent)} sent, acknowledged {kinds}, "
          f"{len(subjects)} in INBOX, {len(entries)} queued")
    assert codes == [0, 0], [n.log_text()[-3000:] for n in cluster.nodes]


def works(node, token):
    """One SMTP delivery and one IMAP APPEND on `node` succeed (the node is serving from the database)."""
    try:
        with smtplib.SMTP(HOST, node.ports["mx"], timeout=10) as smtp:
            smtp.sendmail("probe@example.org", ["demo@example.test"], message(token))
        imap = imaplib.IMAP4(HOST, node.ports["imap"], timeout=10)
        imap.login(node.user, node.password)
        typ, _ = imap.append("INBOX", None, None, message(token + "-imap").encode())
        imap.logout()
        return typ == "OK"
    except (OSError, smtplib.SMTPException, imaplib.IMAP4.error, imaplib.IMAP4.abort):
        return False


def test_database_restart_under_traffic_gives_temporary_errors_and_the_nodes_reconnect(tmp_path, pg):
    cluster = Cluster(tmp_path, pg, extra_config=HOLD_REMOTE_MAIL)
    lost_before = [n.metric("posthorn_db_connections_lost_total") for n in cluster.nodes]
    connects_before = [n.metric("posthorn_db_connects_total", result="ok") for n in cluster.nodes]
    ledger = Ledger()
    stop = threading.Event()
    clients = start_clients(cluster.nodes, ledger, stop)
    try:
        time.sleep(1.5)
        with ledger.lock:
            acked_before = len(ledger.acked)
        pg.restart()
        restarted = time.time()
        # Both nodes serve again on their own, without a restart of theirs.
        for i, node in enumerate(cluster.nodes):
            wait_for(lambda: works(node, f"after-{i}-{time.time()}"), timeout=30, what=f"node {i} serving again")
        print(f"nodes serving again {time.time() - restarted:.2f} s after the database restart")
        time.sleep(1)
    finally:
        stop_clients(stop, clients)
    for node in cluster.nodes:
        assert node.proc.poll() is None, node.log_text()[-3000:]
    with ledger.lock:
        refusals = list(ledger.refusals)
        acked_after = len(ledger.acked)
    assert acked_after > acked_before + 20, (acked_before, acked_after)
    assert refusals, "no client saw the database go away: the restart proved nothing"
    permanent = [r for r in refusals if r[0] == "smtp" and not 400 <= r[1] < 500]
    assert not permanent, f"permanent SMTP errors for a temporary fault: {permanent[:10]}"
    unclear = [r for r in refusals if r[0] == "imap" and b"[UNAVAILABLE]" not in r[1]]
    assert not unclear, f"IMAP refusals without [UNAVAILABLE]: {unclear[:10]}"
    subjects, entries, kinds = settle(cluster, ledger, probes="after-")
    print(f"database restart: {len(refusals)} temporary refusals "
          f"({sum(r[0] == 'smtp' for r in refusals)} SMTP, {sum(r[0] == 'imap' for r in refusals)} IMAP), "
          f"acknowledged {kinds}")
    for i, node in enumerate(cluster.nodes):
        assert node.metric("posthorn_db_connections_lost_total") > lost_before[i] or \
            node.metric("posthorn_db_connects_total", result="failed") > 0
        assert node.metric("posthorn_db_connects_total", result="ok") > connects_before[i]
    codes = cluster.stop()
    assert codes == [0, 0], [n.log_text()[-3000:] for n in cluster.nodes]

