#!/usr/bin/env python3
"""Server memory under the unfinished-DATA attack of issue 28 item 2: N MX connections (default 100)
each send M MiB (default 50) of DATA without the final dot, from one address, before any login.
Reports the server's VmRSS before the attack, its peak while the data arrives, and after the clients
give up, plus the bytes the server spooled to its temp files. A fresh `posthorn init --dev` folder on
free loopback ports; the binary is not built here (`make build` makes ./build/posthorn).

  bench/spool_memory.py --bin build/posthorn [-n 100] [--mib 50] [--limit-mib 300]

Exit status 1 when the peak RSS is over --limit-mib (the issue's bound: 300 MB).
"""
import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PASSWORD = "spool bench password"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class PeakRss:
    """Samples a process's VmRSS on a thread every `period` seconds until stop(); `peak` is the highest
    seen, starting from `before`."""

    def __init__(self, pid, before, period):
        self.peak = before
        self._pid = pid
        self._period = period
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self):
        while not self._done.is_set():
            self.peak = max(self.peak, rss_kib(self._pid))
            time.sleep(self._period)

    def stop(self):
        self._done.set()
        self._thread.join()
        return self.peak


def spooled(pid, root):
    total = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith(str(root)) and target.endswith("(deleted)"):
                total += os.stat(f"/proc/{pid}/fd/{fd}").st_size
        except OSError:
            pass
    return total


def free_base():
    for base in range(30000, 60000, 1000):
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", base + 25))
            return base
        except OSError:
            continue
    raise RuntimeError("no free port base")


@contextlib.contextmanager
def dev_server(binary, prefix):
    """`posthorn serve` on a fresh `init --dev` folder (domain example.test, user demo@example.test
    with PASSWORD) on free loopback ports: yields (process, data folder, port base); stopped at exit."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        root = Path(tmp) / "srv"
        base = free_base()
        subprocess.run([binary, "init", "--dir", str(root), "--dev", "--port-base", str(base),
                        "--hostname", "localhost"], check=True, capture_output=True, timeout=60)
        config = root / "posthorn.toml"
        for cmd, inp in ((["domain", "add", "example.test"], None),
                         (["user", "add", "demo@example.test", "--password-stdin"], PASSWORD + "\n")):
            subprocess.run([binary, "--config", str(config), *cmd], input=inp, text=True, check=True,
                           capture_output=True, timeout=60)
        with open(root / "serve.log", "ab") as log:
            proc = subprocess.Popen([binary, "--config", str(config), "serve"], stdout=log, stderr=subprocess.STDOUT)
            try:
                yield proc, root, base
            finally:
                proc.terminate()
                proc.wait(timeout=30)


def wait_port(port, timeout=30):
    deadline = time.time() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


def readline(f):
    line = f.readline()
    if not line:
        raise RuntimeError("server closed the connection")
    return line


def open_data(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    f = sock.makefile("rb")
    readline(f)
    sock.sendall(b"EHLO bench.test\r\n")
    while not readline(f).startswith(b"250 "):
        pass
    for cmd in (b"MAIL FROM:<a@remote.test>", b"RCPT TO:<demo@example.test>", b"DATA"):
        sock.sendall(cmd + b"\r\n")
        reply = readline(f)
        if not reply[:1] in (b"2", b"3"):
            raise RuntimeError(f"{cmd!r}: {reply!r}")
    return sock, f


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/posthorn")
    ap.add_argument("-n", type=int, default=100)
    ap.add_argument("--mib", type=int, default=50)
    ap.add_argument("--limit-mib", type=int, default=300)
    args = ap.parse_args()
    binary = str(Path(args.bin).resolve())
    with dev_server(binary, "spool-bench-") as (proc, root, base):
        port = base + 25
        wait_port(port)
        conns = [open_data(port) for _ in range(args.n)]
        before = rss_kib(proc.pid)
        line = (b"x" * 76) + b"\r\n"
        chunk = line * ((1 << 20) // len(line))
        sampler = PeakRss(proc.pid, before, 0.05)
        start = time.time()

        def pump(socks):
            for _ in range(args.mib):
                for sock, _ in socks:
                    sock.sendall(chunk)

        # Two sender threads, each with half of the connections, interleaving 1 MiB writes.
        halves = [conns[0::2], conns[1::2]]
        senders = [threading.Thread(target=pump, args=(h,)) for h in halves]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        sent = args.n * args.mib * len(chunk)
        want = sent - args.n * 256 * 1024
        while spooled(proc.pid, root) < want and time.time() - start < 600:
            time.sleep(0.2)
        elapsed = time.time() - start
        on_disk = spooled(proc.pid, root)
        for sock, f in conns:
            f.close()
            sock.close()
        time.sleep(1)
        peak = sampler.stop()
        after = rss_kib(proc.pid)
    print(f"{args.n} connections x {args.mib} MiB unfinished DATA ({sent / 2**20:.0f} MiB in {elapsed:.1f} s, "
          f"{sent / 2**20 / elapsed:.0f} MiB/s)")
    print(f"RSS before {before / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB, after {after / 1024:.0f} MiB; "
          f"spooled to disk at the end {on_disk / 2**20:.0f} MiB")
    if peak / 1024 > args.limit_mib:
        print(f"FAIL: peak RSS over {args.limit_mib} MiB")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
