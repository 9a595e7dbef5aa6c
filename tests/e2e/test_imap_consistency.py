"""Multi-client consistency (issue 5): N clients on the same mailbox do random APPEND, STORE, EXPUNGE,
MOVE and FETCH by sequence number and by UID, concurrently, over implicit TLS. Each client keeps its
own model of the mailbox purely from what the server tells it (EXISTS, EXPUNGE, FETCH, in order), the
way a real client does. At checkpoints (all clients idle, then NOOP) every client's model must agree
with a full FETCH of its own session, with every other client's, and with a fresh session's view of
the store: the same UIDs in the same order, the same flags and the same MODSEQ.

POSTHORN_CONSISTENCY_SECONDS sets the run time (default 60)."""
import os
import random
import re
import socket
import threading
import time

CLIENTS = 4
OPS_PER_ROUND = 12
SECONDS = float(os.environ.get("POSTHORN_CONSISTENCY_SECONDS", "60"))
FLAGS = ["\\Seen", "\\Flagged", "\\Answered", "$Label1", "$Label2"]

UNTAGGED_NUM = re.compile(rb"^\* (\d+) (EXISTS|EXPUNGE|FETCH|RECENT)(?: \((.*)\))?$")
LITERAL = re.compile(rb"\{(\d+)\+?\}$")


class ConsistencyError(AssertionError):
    pass


class Client:
    """A raw IMAP client that records every untagged response in order and keeps a model of the
    selected mailbox: a list of [uid or None, flags or None, modseq or None] in sequence order."""

    def __init__(self, server, name):
        self.name = name
        raw = socket.create_connection(("127.0.0.1", server.ports["imaps"]), timeout=60)
        self.sock = server.ssl_context().wrap_socket(raw, server_hostname="localhost")
        self.buf = b""
        self.n = 0
        self.model = []
        self.log = []  # the last responses, for failure messages
        self.read_line()  # greeting
        self.command(f'LOGIN "{server.user}" "{server.password}"')

    def read_line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConsistencyError(f"{self.name}: connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        m = LITERAL.search(line)
        if m:  # a literal follows: read it and the rest of the line
            size = int(m.group(1))
            while len(self.buf) < size:
                self.buf += self.sock.recv(65536)
            line += b"\r\n" + self.buf[:size]
            self.buf = self.buf[size:]
            line += self.read_line()
        return line

    def command(self, text, literal=None):
        self.n += 1
        tag = f"{self.name}{self.n}".encode()
        data = tag + b" " + text.encode()
        if literal is not None:
            data += b" {%d+}\r\n" % len(literal) + literal
        self.sock.sendall(data + b"\r\n")
        while True:
            line = self.read_line()
            self.log = (self.log + [line])[-40:]
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise ConsistencyError(f"{self.name}: {text!r} -> {line!r}")
                return line
            self.untagged(line)

    def fail(self, message):
        raise ConsistencyError(f"{self.name}: {message}\nlast responses:\n" +
                               "\n".join(l.decode(errors="replace") for l in self.log))

    def untagged(self, line):
        m = UNTAGGED_NUM.match(line)
        if not m:
            return
        n, kind, rest = int(m.group(1)), m.group(2), m.group(3)
        if kind == b"EXISTS":
            if n < len(self.model):
                self.fail(f"EXISTS {n} is below the {len(self.model)} messages known")
            self.model.extend([None, None, None] for _ in range(n - len(self.model)))
        elif kind == b"EXPUNGE":
            if not 1 <= n <= len(self.model):
                self.fail(f"EXPUNGE {n} outside 1..{len(self.model)}")
            del self.model[n - 1]
        elif kind == b"FETCH":
            if not 1 <= n <= len(self.model):
                self.fail(f"FETCH {n} outside 1..{len(self.model)}")
            entry = self.model[n - 1]
            uid = re.search(rb"UID (\d+)", rest)
            if uid:
                uid = int(uid.group(1))
                if entry[0] is not None and entry[0] != uid:
                    self.fail(f"message {n} was UID {entry[0]}, now FETCH says UID {uid}")
                entry[0] = uid
            flags = re.search(rb"FLAGS \(([^)]*)\)", rest)
            if flags:
                entry[1] = frozenset(f for f in flags.group(1).decode().split() if f != "\\Recent")
            modseq = re.search(rb"MODSEQ \((\d+)\)", rest)
            if modseq:
                entry[2] = int(modseq.group(1))

    def full_view(self):
        """The session's whole view by a FETCH 1:*, checked against the model first: FLAGS and UID
        alone (which the server answers from the session's view), then with MODSEQ (from the store)."""
        if not self.model:
            return []
        self.fetch_checked("FETCH 1:* (FLAGS UID)")
        self.fetch_checked("FETCH 1:* (UID FLAGS MODSEQ)")
        return [tuple(e) for e in self.model]

    def fetch_checked(self, command):
        before = [list(e) for e in self.model]
        self.command(command)
        for i, (old, new) in enumerate(zip(before, self.model)):
            if old[0] is not None and old[0] != new[0]:
                self.fail(f"model had UID {old[0]} at {i + 1}, FETCH says {new[0]}")
            if old[1] is not None and old[1] != new[1]:
                self.fail(f"model had flags {sorted(old[1])} for UID {new[0]}, FETCH says {sorted(new[1])}")
            if old[2] is not None and old[2] != new[2]:
                self.fail(f"model had MODSEQ {old[2]} for UID {new[0]}, FETCH says {new[2]}")

    def random_op(self, rng):
        op = rng.choices(["append", "store", "uidstore", "expunge", "move", "fetch"], [3, 4, 2, 2, 1, 2])[0]
        count = len(self.model)
        if op == "append" or count == 0:
            flags = " ".join(rng.sample(FLAGS, rng.randint(0, 2)))
            body = f"From: c@example.test\r\nSubject: {self.name} {rng.random()}\r\n\r\nbody\r\n".encode()
            self.command(f"APPEND INBOX ({flags})", literal=body)
            return
        seq = rng.randint(1, count)
        flag = rng.choice(FLAGS)
        if op == "store":
            self.command(f"STORE {seq} {rng.choice('+-')}FLAGS ({flag})")
        elif op == "uidstore":
            self.command(f"FETCH {seq} (UID)")
            uid = self.model[seq - 1][0] if seq <= len(self.model) else None
            if uid is not None:
                self.command(f"UID STORE {uid} {rng.choice('+-')}FLAGS ({flag})")
        elif op == "expunge":
            self.command(f"FETCH {seq} (UID)")
            uid = self.model[seq - 1][0] if seq <= len(self.model) else None
            if uid is not None:
                self.command(f"UID STORE {uid} +FLAGS.SILENT (\\Deleted)")
                self.command(f"UID EXPUNGE {uid}")
        elif op == "move":
            self.command(f"MOVE {seq} Archive")
        else:
            last = rng.randint(seq, count)
            self.command(f"FETCH {seq}:{last} " + rng.choice(["(UID FLAGS MODSEQ)", "(UID FLAGS)", "(FLAGS)"]))


def test_clients_agree_with_each_other_and_the_store(server):
    clients = [Client(server, f"c{i}") for i in range(CLIENTS)]
    for c in clients:
        c.command("SELECT INBOX (CONDSTORE)")
    errors = []
    barrier = threading.Barrier(CLIENTS)
    stop = threading.Event()
    rounds = [0]

    def worker(index, client):
        rng = random.Random(1000 + index)
        try:
            while True:
                for _ in range(OPS_PER_ROUND):
                    client.random_op(rng)
                barrier.wait(timeout=120)  # everyone idle
                client.command("NOOP")
                barrier.wait(timeout=120)  # everyone told
                view = client.full_view()
                views[index] = view
                barrier.wait(timeout=120)
                if index == 0:
                    check(views, rounds[0])
                    rounds[0] += 1
                    if time.monotonic() > deadline:
                        stop.set()
                barrier.wait(timeout=120)
                if stop.is_set():
                    return
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
            barrier.abort()

    def check(all_views, round_no):
        fresh = Client(server, "f")
        fresh.command("EXAMINE INBOX (CONDSTORE)")
        store_view = fresh.full_view()
        fresh.sock.close()
        for i, v in enumerate(all_views):
            if v != store_view:
                diff = sorted(set(v) ^ set(store_view))[:10]
                raise ConsistencyError(f"round {round_no}: client {i} ({len(v)} messages) disagrees with the store "
                                       f"({len(store_view)} messages); differing entries: {diff}")
        uids = [e[0] for e in store_view]
        if uids != sorted(uids) or len(set(uids)) != len(uids):
            raise ConsistencyError(f"round {round_no}: UIDs not strictly ascending: {uids}")

    views = [None] * CLIENTS
    deadline = time.monotonic() + SECONDS
    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=SECONDS + 600)
    for c in clients:
        c.sock.close()
    real = [e for e in errors if not isinstance(e, threading.BrokenBarrierError)]
    assert not real, real[0]
    assert not errors, errors[0]
    assert rounds[0] >= 2, f"only {rounds[0]} checkpoints in {SECONDS} s"
