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
import subprocess
import threading
import time

from conftest import Server, wait_for_port
from traffic import HOST, Ledger, check_ledger, inbox_subjects, message, start_clients

KILLS = int(os.environ.get("POSTHORN_TORTURE_KILLS", "4"))


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
    clients = start_clients([s], ledger, stop)
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

    kinds = check_ledger(ledger, subjects, validity, entries)
    print(f"torture: {KILLS} SIGKILLs, {len(ledger.sent)} sent, acknowledged {kinds}, "
          f"{len(subjects)} in INBOX, {len(entries)} queued")
