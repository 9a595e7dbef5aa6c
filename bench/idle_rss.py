#!/usr/bin/env python3
"""Memory per IMAP connection in IDLE, measured simply: a fresh `posthorn init --dev` folder, one user
(or --users of them), the server's VmRSS (and PSS from /proc/PID/smaps_rollup) once every connection
has logged in once (warm-up), then again with N connections that LOGIN, SELECT INBOX and IDLE;
(after - before) / N per connection. Plain TCP on loopback, or implicit TLS with --tls.

  bench/idle_rss.py --bin build-rel/posthorn -n 1000 [--tls] [--users 1]

Not a comparison with Dovecot (see bench/run imap-idle-memory for that); a quick before/after check.
"""
import argparse
import os
import resource
import selectors
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PASSWORD = "idle bench password"


def cli(binary, config, *args, input=None):
    subprocess.run([binary, "--config", str(config), *args], input=input, text=True, check=True,
                   capture_output=True, timeout=120)


def memory_kb(pid):
    rss = pss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def open_idle(port, user, tls_ctx, n):
    """Opens n connections and drives each through LOGIN, SELECT, IDLE without blocking on one."""
    sel = selectors.DefaultSelector()
    script = [b"a LOGIN \"%s\" \"%s\"\r\n" % (user(i).encode(), PASSWORD.encode()) for i in range(n)]
    conns = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        if tls_ctx:
            s = tls_ctx.wrap_socket(s, server_hostname="localhost")
        s.setblocking(False)
        state = {"i": i, "buf": b"", "step": 0, "sock": s}
        conns.append(state)
        sel.register(s, selectors.EVENT_READ, state)
    expects = [b"* OK", b"a OK", b"b OK", b"+ "]
    sends = [lambda st: script[st["i"]], lambda st: b"b SELECT INBOX\r\n", lambda st: b"c IDLE\r\n", None]
    done = 0
    deadline = time.time() + 600
    while done < n:
        if time.time() > deadline:
            raise RuntimeError(f"only {done} of {n} connections reached IDLE")
        for key, _ in sel.select(timeout=5):
            st = key.data
            try:
                chunk = st["sock"].recv(65536)
            except (ssl.SSLWantReadError, BlockingIOError):
                continue
            if not chunk:
                raise RuntimeError("server closed a connection: " + st["buf"][-200:].decode(errors="replace"))
            st["buf"] += chunk
            while b"\r\n" in st["buf"]:
                line, st["buf"] = st["buf"].split(b"\r\n", 1)
                if st["step"] >= len(expects) or not line.startswith(expects[st["step"]]):
                    if line.split(b" ")[0] in (b"a", b"b") and b" OK" not in line:
                        raise RuntimeError(line.decode(errors="replace"))
                    continue
                send = sends[st["step"]]
                st["step"] += 1
                if send is None:
                    done += 1
                    sel.unregister(st["sock"])
                    break
                st["sock"].setblocking(True)
                st["sock"].sendall(send(st))
                st["sock"].setblocking(False)
    return conns


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--users", type=int, default=1, help="connections are spread over this many users")
    ap.add_argument("--tls", action="store_true")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.n + 100)), hard))
    binary = str(Path(args.bin).resolve())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "srv"
        base = 30000 + os.getpid() % 20000
        subprocess.run([binary, "init", "--dir", str(root), "--dev", "--port-base", str(base), "--hostname",
                        "localhost"], check=True, capture_output=True)
        config = root / "posthorn.toml"
        # The default per-address limit (100) is far below a thousand connections from 127.0.0.1.
        text = config.read_text()
        assert "\n[limits]" not in text
        config.write_text(text + "\n[limits]\nmax_connections = 100000\nmax_connections_per_ip = 100000\n")
        cli(binary, config, "domain", "add", "example.test")
        user = (lambda i: f"u{i % args.users}@example.test")
        for u in range(args.users):
            cli(binary, config, "user", "add", user(u), "--password-stdin", input=PASSWORD + "\n")
        log = open(root / "serve.log", "wb")
        proc = subprocess.Popen([binary, "--config", str(config), "serve"], stdout=log, stderr=subprocess.STDOUT)
        try:
            port = base + (993 if args.tls else 143)
            for _ in range(300):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            ctx = None
            if args.tls:
                ctx = ssl.create_default_context(cafile=str(root / "tls" / "cert.pem"))
            # Warm-up: every user logs in once (password hashing memory) and stays in IDLE, so its
            # account store stays open: the figure is the steady cost of one more connection, not
            # of opening account stores (the store keeps an account open while a session uses it).
            warm = open_idle(port, user, ctx, args.users)
            time.sleep(1.0)
            before = memory_kb(proc.pid)
            conns = open_idle(port, user, ctx, args.n)
            time.sleep(2.0)
            after = memory_kb(proc.pid)
            print(f"connections={args.n} users={args.users} tls={args.tls}")
            print(f"VmRSS before={before[0]} KB after={after[0]} KB per connection={(after[0] - before[0]) / args.n:.2f} KB")
            print(f"Pss   before={before[1]} KB after={after[1]} KB per connection={(after[1] - before[1]) / args.n:.2f} KB")
            for st in conns + warm:
                st["sock"].close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
