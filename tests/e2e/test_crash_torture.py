"""Crash torture with the real server (issue 8): SIGKILL `posthorn serve` at random moments while ten
clients deliver over SMTP (MX), submit mail for a remote domain (it waits in the outbound queue) and
APPEND over IMAP; restart it each time. Afterwards every acknowledged message is present exactly once,
nothing unacknowledged is present twice, UIDs only grow (UIDVALIDITY unchanged, every APPENDUID still
names its message) and the queue holds each acknowledged submission exactly once.

make test runs a short version (POSTHORN_TORTURE_KILLS, default 4); `make torture` a long one."""
import imaplib
import json
import os
import random
import re
import signal
import smtplib
import subprocess
import threading
import time

from conftest import Server, wait_for_port

KILLS = int(os.environ.get("POSTHORN_TORTURE_KILLS", "4"))
HOST = "127.0.0.1"


class Ledger:
    """What the clients sent and what the server acknowledged."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = set()         # every token that went out (acknowledged or not)
        self.acked = {}           # token -> "mx" | "queue" | ("imap", uid)
        self.uids = []            # APPENDUIDs in acknowledgement order, per client (client, uid)
        self.uidvalidity = set()

    def send(self, token):
        with self.lock:
            self.sent.add(token)

    def ack(self, token, what):
        with self.lock:
            self.acked[token] = what


def message(token, sender="torture@example.org"):
    return (f"From: {sender}\r\nTo: demo@example.test\r\nSubject: {token}\r\n"
            f"Message-ID: <{token}@torture.test>\r\n\r\n{'body line ' * 30}\r\n")


def smtp_client(server, ledger, name, stop, submission):
    """MX delivery to the local user, or (submission) an authenticated submission to a remote domain
    that waits in the queue, carrying the token as ENVID. Reconnects after every crash."""
    n = 0
    while not stop.is_set():
        try:
            with smtplib.SMTP(HOST, server.ports["submission" if submission else "mx"], timeout=10) as smtp:
                smtp.ehlo("torture.example")
                if submission:
                    smtp.login(server.user, server.password)
                while not stop.is_set():
                    n += 1
                    token = f"{name}-{n}"
                    ledger.send(token)
                    if submission:
                        smtp.sendmail(server.user, ["someone@remote.example"], message(token, server.user),
                                      mail_options=[f"ENVID={token}"])
                    else:
                        smtp.sendmail("torture@example.org", ["demo@example.test"], message(token))
                    ledger.ack(token, "queue" if submission else "mx")
        except (OSError, smtplib.SMTPException):
            time.sleep(0.05)


def imap_client(server, ledger, name, stop):
    n = 0
    while not stop.is_set():
        try:
            imap = imaplib.IMAP4(HOST, server.ports["imap"], timeout=10)
            imap.login(server.user, server.password)
            while not stop.is_set():
                n += 1
                token = f"{name}-{n}"
                ledger.send(token)
                typ, data = imap.append("INBOX", None, None, message(token).encode())
                if typ != "OK":
                    continue
                m = re.search(rb"APPENDUID (\d+) (\d+)", data[0])
                assert m, data
                with ledger.lock:
                    ledger.uidvalidity.add(int(m.group(1)))
                    ledger.uids.append((name, int(m.group(2))))
                ledger.ack(token, ("imap", int(m.group(2))))
        except (OSError, imaplib.IMAP4.error, imaplib.IMAP4.abort):
            time.sleep(0.05)


def inbox_subjects(server):
    """UID -> Subject of every message in INBOX."""
    imap = imaplib.IMAP4(HOST, server.ports["imap"], timeout=30)
    imap.login(server.user, server.password)
    typ, data = imap.select("INBOX", readonly=True)
    assert typ == "OK"
    out = {}
    if int(data[0]) > 0:
        typ, data = imap.uid("FETCH", "1:*", "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK"
        for item in data:
            if isinstance(item, tuple):
                uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
                subject = re.search(rb"Subject: (\S+)", item[1]).group(1).decode()
                out[uid] = subject
    typ, data = imap.status("INBOX", "(UIDVALIDITY)")
    validity = int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1))
    imap.logout()
    return out, validity


def start(server):
    server._logf = open(server.log, "ab")
    server.proc = subprocess.Popen([server.bin, "--config", str(server.config), "serve"],
                                   stdout=server._logf, stderr=subprocess.STDOUT)
    for name in ("mx", "imap", "submission"):
        wait_for_port(server.ports[name], proc=server.proc, log=server.log)


def test_sigkill_during_smtp_imap_and_queue_traffic_loses_and_doubles_nothing(tmp_path):
    s = Server(tmp_path / "srv")
    s.init()
    import conftest
    s.bin = conftest.BIN
    # Remote mail must wait in the queue: no DNS answers (a closed port) and long retry intervals.
    with s.config.open("a") as f:
        f.write("\n[dns]\nresolver = \"127.0.0.1:9\"\ntimeout = 1\n"
                "[delivery]\nretry_min = 3600\nretry_max = 3600\n")
    start(s)
    ledger = Ledger()
    stop = threading.Event()
    clients = ([threading.Thread(target=smtp_client, args=(s, ledger, f"mx{i}", stop, False)) for i in range(4)] +
               [threading.Thread(target=smtp_client, args=(s, ledger, f"q{i}", stop, True)) for i in range(2)] +
               [threading.Thread(target=imap_client, args=(s, ledger, f"imap{i}", stop)) for i in range(4)])
    for c in clients:
        c.start()
    rng = random.Random(int(os.environ.get("POSTHORN_TORTURE_SEED", "8")))
    max_uid_before = 0
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.5, 2.5))
            s.proc.send_signal(signal.SIGKILL)
            s.proc.wait()
            s._logf.close()
            with ledger.lock:
                acked_uids = [uid for _, uid in ledger.uids]
            start(s)
            # UIDs only grow: a message appended after the restart gets a UID above every one
            # acknowledged before the crash.
            probe = imaplib.IMAP4(HOST, s.ports["imap"], timeout=10)
            probe.login(s.user, s.password)
            typ, data = probe.append("INBOX", None, None, message(f"probe-{len(acked_uids)}").encode())
            assert typ == "OK", data
            uid = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
            assert uid > max(acked_uids, default=0), (uid, max(acked_uids, default=0))
            assert uid > max_uid_before
            max_uid_before = uid
            probe.logout()
            ledger.ack(f"probe-{len(acked_uids)}", ("imap", uid))
            ledger.send(f"probe-{len(acked_uids)}")
        time.sleep(1)
    finally:
        stop.set()
        for c in clients:
            c.join(timeout=30)
    subjects, validity = inbox_subjects(s)
    entries = json.loads(s.cli("queue", "list", "--json").stdout)
    rc = s.stop()
    assert rc == 0, s.log_text()[-3000:]

    counts = {}
    for subject in subjects.values():
        counts[subject] = counts.get(subject, 0) + 1
    queued = {}
    for e in entries:
        queued[e["envid"]] = queued.get(e["envid"], 0) + 1

    acked = ledger.acked
    kinds = {}
    for what in acked.values():
        kind = what if isinstance(what, str) else what[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    print(f"torture: {KILLS} SIGKILLs, {len(ledger.sent)} sent, acknowledged {kinds}, "
          f"{len(subjects)} in INBOX, {len(entries)} queued")
    assert len(acked) > 50, f"too little traffic to prove anything: {len(acked)} acknowledged"
    assert ledger.uidvalidity <= {validity}, (ledger.uidvalidity, validity)
    lost = [t for t, what in acked.items() if what != "queue" and counts.get(t, 0) != 1]
    assert not lost, f"acknowledged but not present exactly once: {[(t, counts.get(t, 0)) for t in lost][:20]}"
    moved = [(t, what[1]) for t, what in acked.items()
             if isinstance(what, tuple) and subjects.get(what[1]) != t]
    assert not moved, f"APPENDUID no longer names its message: {moved[:20]}"
    doubled = [t for t, n in counts.items() if n > 1]
    assert not doubled, f"present more than once: {doubled[:20]}"
    unknown = [t for t in counts if t not in ledger.sent]
    assert not unknown, unknown[:20]
    lost_q = [t for t, what in acked.items() if what == "queue" and queued.get(t, 0) != 1]
    assert not lost_q, f"acknowledged submissions not queued exactly once: {[(t, queued.get(t, 0)) for t in lost_q][:20]}"
    assert all(n == 1 for n in queued.values()), {t: n for t, n in queued.items() if n > 1}
    assert all(t in ledger.sent for t in queued)
