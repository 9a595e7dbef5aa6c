#!/usr/bin/env python3
"""Server memory under big concurrent IMAP APPENDs (issue 28 item 2): N logged-in IMAP connections
(default 20) each APPEND one M MiB literal (default 50) at the same time, to the end. Reports the
server's VmRSS before, its peak while the literals arrive and are stored, and after, and checks that
every APPEND answered OK. An APPEND literal used to be held whole in RAM, about 3x over (the
command, its parse, the store's copies); now it is spooled past limits.message_memory and copied
into its blob a piece at a time. A fresh `posthorn init --dev` folder on free loopback ports; the
binary is not built here (`make build` makes ./build/posthorn).

  bench/append_memory.py --bin build/posthorn [-n 20] [--mib 50] [--limit-mib 300]

Exit status 1 when an APPEND failed or the peak RSS is over --limit-mib (meant for the release
build; an ASan build starts near 230 MiB, run it with ASAN_OPTIONS=quarantine_size_mb=8 and read the
growth).
"""
import argparse
import socket
import sys
import threading
import time
from pathlib import Path

from spool_memory import PASSWORD, PeakRss, dev_server, readline, rss_kib, spooled, wait_port


def imap_login(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=600)
    f = sock.makefile("rb")
    readline(f)
    sock.sendall(f'L LOGIN demo@example.test "{PASSWORD}"\r\n'.encode())
    while not (line := readline(f)).startswith(b"L "):
        pass
    if not line.startswith(b"L OK"):
        raise RuntimeError(f"LOGIN: {line!r}")
    return sock, f


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/posthorn")
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--mib", type=int, default=50)
    ap.add_argument("--limit-mib", type=int, default=300)
    args = ap.parse_args()
    binary = str(Path(args.bin).resolve())
    line = (b"x" * 76) + b"\r\n"
    chunk = line * ((1 << 20) // len(line))
    head = b"From: <a@remote.test>\r\nSubject: append bench\r\n\r\n"
    size = len(head) + args.mib * len(chunk)
    with dev_server(binary, "append-bench-") as (proc, root, base):
        port = base + 143
        wait_port(port)
        conns = [imap_login(port) for _ in range(args.n)]
        before = rss_kib(proc.pid)
        sampler = PeakRss(proc.pid, before, 0.02)
        failures = []

        def append(sock, f):
            try:
                sock.sendall(b"a APPEND INBOX {%d}\r\n" % size)
                if not readline(f).startswith(b"+"):
                    raise RuntimeError("no continuation request")
                sock.sendall(head)
                for _ in range(args.mib):
                    sock.sendall(chunk)
                sock.sendall(b"\r\n")
                while not (reply := readline(f)).startswith(b"a "):
                    pass
                if not reply.startswith(b"a OK"):
                    raise RuntimeError(reply.decode(errors="replace").strip())
            except Exception as e:  # noqa: BLE001 - reported below
                failures.append(repr(e))

        start = time.time()
        threads = [threading.Thread(target=append, args=c) for c in conns]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.time() - start
        on_disk = spooled(proc.pid, root)
        for sock, f in conns:
            f.close()
            sock.close()
        time.sleep(1)
        peak = sampler.stop()
        after = rss_kib(proc.pid)
    sent = args.n * size
    print(f"{args.n} concurrent IMAP APPENDs x {args.mib} MiB ({sent / 2**20:.0f} MiB stored in {elapsed:.1f} s, "
          f"{sent / 2**20 / elapsed:.0f} MiB/s)")
    print(f"RSS before {before / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB (+{(peak - before) / 1024:.0f}), "
          f"after {after / 1024:.0f} MiB; spooled at the end {on_disk / 2**20:.0f} MiB")
    if failures:
        print(f"FAIL: {len(failures)} APPENDs failed, the first: {failures[0]}")
        return 1
    if peak / 1024 > args.limit_mib:
        print(f"FAIL: peak RSS over {args.limit_mib} MiB")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
