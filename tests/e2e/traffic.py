"""Write traffic that survives server crashes, for the crash tests (test_crash_torture.py on one
node, test_cluster_faults.py on two nodes sharing PostgreSQL): clients that deliver over SMTP (MX),
submit mail for a remote domain (it waits in the outbound queue) and APPEND over IMAP, reconnecting
whenever the server goes away, and a Ledger of what they sent, what the server acknowledged and
every error reply they got. check_ledger() then asserts the durability promise: every acknowledged
message present exactly once, nothing unacknowledged present twice, UIDs that still name their
messages, every acknowledged submission queued exactly once."""
import imaplib
import re
import smtplib
import threading
import time

HOST = "127.0.0.1"


class Ledger:
    """What the clients sent and what the server acknowledged."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = set()         # every token that went out (acknowledged or not)
        self.acked = {}           # token -> "mx" | "queue" | ("imap", uid)
        self.uids = []            # APPENDUIDs in acknowledgement order, per client (client, uid)
        self.uidvalidity = set()
        self.refusals = []        # ("smtp", code, text) or ("imap", response text) of refused writes

    def send(self, token):
        with self.lock:
            self.sent.add(token)

    def ack(self, token, what):
        with self.lock:
            self.acked[token] = what

    def refused(self, *what):
        with self.lock:
            self.refusals.append(what)


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
        except smtplib.SMTPResponseException as e:
            ledger.refused("smtp", e.smtp_code, e.smtp_error)
            time.sleep(0.05)
        except smtplib.SMTPRecipientsRefused as e:
            for code, text in e.recipients.values():
                ledger.refused("smtp", code, text)
            time.sleep(0.05)
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
                    ledger.refused("imap", data[0])
                    continue
                m = re.search(rb"APPENDUID (\d+) (\d+)", data[0])
                assert m, data
                with ledger.lock:
                    ledger.uidvalidity.add(int(m.group(1)))
                    ledger.uids.append((name, int(m.group(2))))
                ledger.ack(token, ("imap", int(m.group(2))))
        except imaplib.IMAP4.error as e:  # a refused LOGIN
            ledger.refused("imap", str(e).encode())
            time.sleep(0.05)
        except (OSError, imaplib.IMAP4.abort):
            time.sleep(0.05)


def start_clients(servers, ledger, stop, mx=4, submission=2, imap=4):
    """The clients, spread over `servers` (round robin), started."""
    clients = []
    for kind, count in (("mx", mx), ("q", submission), ("imap", imap)):
        for i in range(count):
            s = servers[i % len(servers)]
            if kind == "imap":
                t = threading.Thread(target=imap_client, args=(s, ledger, f"{kind}{i}", stop))
            else:
                t = threading.Thread(target=smtp_client, args=(s, ledger, f"{kind}{i}", stop, kind == "q"))
            clients.append(t)
    for c in clients:
        c.start()
    return clients


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


def check_ledger(ledger, subjects, validity, entries, min_acked=50):
    """The durability promise over what the clients saw (`subjects`, `validity`: inbox_subjects();
    `entries`: `posthorn queue list --json`). Returns the acknowledgements per kind."""
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
    assert len(acked) > min_acked, f"too little traffic to prove anything: {len(acked)} acknowledged"
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
    return kinds
