#!/usr/bin/python3
"""Login cost with and without the verified-credentials cache ([auth] cache_ttl).

Builds nothing: it runs an existing posthorn binary (default ./build/posthorn, from `make build`) in a
temporary `posthorn init --dev` folder on free loopback ports, with the production Argon2 parameters
(the init defaults) and one user. Each round restarts the server with one configuration:

  A  cache_ttl = 300 (the default)      B  cache_ttl = 0 (every login runs Argon2)

and the rounds alternate A B A B ... so drifting machine load hits both alike. A round measures:

  sequential   N logins, one at a time, a fresh plain-TCP IMAP connection each
               (connect, greeting, LOGIN, LOGOUT): logins/s and LOGIN reply latency p50/p99
  concurrent   the same with C client threads at once (IMAP allows one LOGIN per connection
               [RFC 9051 §6.2.3], so there is no "many logins on one connection" variant)

and, in A rounds, the reply time of a wrong password vs an unknown user (alternating, F of each,
fresh connection each; throttling is configured away so no delay applies). Figures are medians over
the rounds. Standard library only."""
import argparse
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

OFFSETS = {"mx": 25, "submission": 587, "submissions": 465, "imap": 143, "imaps": 993,
           "pop3": 110, "pop3s": 995, "lmtp": 24, "admin": 80}
USER = "bench@example.test"
PASSWORD = "correct horse battery"
# No delay and no block for the failure measurement (limits from docs/configuration.md).
THROTTLE_OFF = "throttle_free_failures = 1000\nthrottle_block_after = 100000\n"


def port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port_base():
    for _ in range(200):
        base = random.randrange(10000, 31700)  # below the ephemeral range (32768+)
        if all(port_free(base + off) for off in OFFSETS.values()):
            return base
    raise RuntimeError("no free port range")


def wait_for_port(port, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} never opened")


class Server:
    def __init__(self, binary, root):
        self.bin = binary
        self.root = root
        self.base = free_port_base()
        self.config = root / "posthorn.toml"
        self.proc = None
        self.logf = None
        self.cli("init", "--dir", str(root), "--dev", "--port-base", str(self.base), "--hostname", "localhost",
                 with_config=False)
        self.cli("domain", "add", "example.test")
        self.cli("user", "add", USER, "--password-stdin", input=PASSWORD + "\n")
        self.pristine = self.config.read_text()

    def cli(self, *args, input=None, with_config=True):
        cmd = [self.bin] + (["--config", str(self.config)] if with_config else []) + list(args)
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            sys.exit(f"posthorn {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")

    def port(self, name):
        return self.base + OFFSETS[name]

    def start(self, cache_ttl):
        extra = THROTTLE_OFF + ("" if cache_ttl is None else f"cache_ttl = {cache_ttl}\n")
        text, n = re.subn(r"^\[auth\]\n", "[auth]\n" + extra, self.pristine, count=1, flags=re.M)
        if n != 1:
            sys.exit("no [auth] table in the generated posthorn.toml")
        self.config.write_text(text)
        self.logf = open(self.root / "serve.log", "ab")
        self.proc = subprocess.Popen([self.bin, "--config", str(self.config), "serve"], stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        for name in ("imap", "admin"):
            wait_for_port(self.port(name))

    def stop(self):
        self.proc.terminate()
        rc = self.proc.wait(timeout=60)
        self.logf.close()
        if rc != 0:
            sys.exit(f"serve exited with {rc}; see {self.root / 'serve.log'}")

    def cache_hits(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port('admin')}/metrics", timeout=10) as r:
            text = r.read().decode()
        m = re.search(r'^posthorn_credential_cache_total\{result="hit"\} (\d+)$', text, re.M)
        return int(m.group(1))


def read_tagged(f, tag):
    """Reads lines until the tagged reply; returns it."""
    while True:
        line = f.readline()
        if not line:
            raise RuntimeError("connection closed")
        if line.startswith(tag + b" "):
            return line


def imap_login(port, user, password, expect_ok):
    """One connection: greeting, LOGIN, LOGOUT. Returns the seconds from sending LOGIN to its reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("rb")
        greeting = f.readline()
        if not greeting.startswith(b"* OK"):
            raise RuntimeError(f"greeting: {greeting!r}")
        t0 = time.perf_counter()
        s.sendall(f'a1 LOGIN {user} "{password}"\r\n'.encode())
        reply = read_tagged(f, b"a1")
        elapsed = time.perf_counter() - t0
        if reply.startswith(b"a1 OK") != expect_ok:
            raise RuntimeError(f"LOGIN {user}: unexpected {reply!r}")
        s.sendall(b"a2 LOGOUT\r\n")
        read_tagged(f, b"a2")
        f.close()
        return elapsed, reply


def percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def run_logins(port, n, threads):
    """n successful logins over `threads` clients; returns (logins/s, latencies)."""
    latencies = []
    lock = threading.Lock()
    counter = iter(range(n))
    errors = []

    def worker():
        while True:
            with lock:
                if next(counter, None) is None:
                    return
            try:
                elapsed, _ = imap_login(port, USER, PASSWORD, True)
            except Exception as e:  # reported after the run
                errors.append(e)
                return
            with lock:
                latencies.append(elapsed)

    t0 = time.perf_counter()
    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return n / wall, latencies


def run_failures(port, attempts):
    """Alternating wrong-password and unknown-user LOGINs; returns (wrong, unknown, replies)."""
    wrong, unknown, replies = [], [], set()
    imap_login(port, "nobody@example.test", "not the password", False)  # computes the dummy hash once
    for _ in range(attempts):
        t, r = imap_login(port, USER, "not the password", False)
        wrong.append(t)
        replies.add(r)
        t, r = imap_login(port, "nobody@example.test", "not the password", False)
        unknown.append(t)
        replies.add(r)
    return wrong, unknown, replies


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="./build/posthorn", help="posthorn binary (default ./build/posthorn)")
    ap.add_argument("-n", type=int, default=200, help="logins per measurement (default 200)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of each configuration (default 3)")
    ap.add_argument("--concurrency", type=int, default=4, help="client threads for the concurrent run; 0 skips it")
    ap.add_argument("--failures", type=int, default=30, help="wrong-password and unknown-user attempts each")
    ap.add_argument("--keep", action="store_true", help="keep the temporary server folder")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    if not os.access(binary, os.X_OK):
        sys.exit(f"{binary}: not an executable (build it with `make build`)")

    tmp = Path(tempfile.mkdtemp(prefix="posthorn-bench-"))
    server = Server(binary, tmp / "srv")
    configs = {"A": ("cache_ttl = 300 (default)", None), "B": ("cache_ttl = 0", 0)}
    results = {k: {"seq_rate": [], "seq_p50": [], "seq_p99": [], "con_rate": [], "con_p50": [], "con_p99": []}
               for k in configs}
    fail_wrong, fail_unknown, fail_replies = [], [], set()
    print(f"posthorn: {binary}\nload before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f}; {os.cpu_count()} CPUs; n={args.n}, rounds={args.rounds}, "
          f"concurrency={args.concurrency}, failures={args.failures}", flush=True)
    loads = []
    try:
        for rnd in range(args.rounds):
            for key, (label, ttl) in configs.items():
                server.start(ttl)
                port = server.port("imap")
                run_logins(port, 5, 1)  # warm-up: first connection, dummy page-ins, the cache entry
                hits0 = server.cache_hits()
                rate, lat = run_logins(port, args.n, 1)
                r = results[key]
                r["seq_rate"].append(rate)
                r["seq_p50"].append(percentile(lat, 50))
                r["seq_p99"].append(percentile(lat, 99))
                line = (f"round {rnd + 1} {key} {label:26s} sequential {rate:8.1f}/s p50 {1e3 * r['seq_p50'][-1]:7.2f} ms "
                        f"p99 {1e3 * r['seq_p99'][-1]:7.2f} ms")
                if args.concurrency > 0:
                    rate, lat = run_logins(port, args.n, args.concurrency)
                    r["con_rate"].append(rate)
                    r["con_p50"].append(percentile(lat, 50))
                    r["con_p99"].append(percentile(lat, 99))
                    line += (f" | x{args.concurrency} {rate:8.1f}/s p50 {1e3 * r['con_p50'][-1]:7.2f} ms "
                             f"p99 {1e3 * r['con_p99'][-1]:7.2f} ms")
                hits = server.cache_hits() - hits0
                line += f" | cache hits {hits}"
                if key == "A" and args.failures > 0:
                    w, u, replies = run_failures(port, args.failures)
                    fail_wrong.append(statistics.median(w))
                    fail_unknown.append(statistics.median(u))
                    fail_replies |= replies
                    line += (f" | wrong password {1e3 * fail_wrong[-1]:.2f} ms, unknown user "
                             f"{1e3 * fail_unknown[-1]:.2f} ms")
                server.stop()
                loads.append(os.getloadavg()[0])
                print(line + f" | load {loads[-1]:.2f}", flush=True)
    finally:
        if server.proc and server.proc.poll() is None:
            server.proc.kill()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    med = statistics.median
    print(f"\nmedians over {args.rounds} rounds (1-minute load during the run: "
          f"{min(loads):.2f} to {max(loads):.2f})")
    print(f"{'':28s} {'logins/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s}")
    for mode, prefix in (("sequential", "seq"), (f"concurrent x{args.concurrency}", "con")):
        if prefix == "con" and args.concurrency <= 0:
            continue
        for key, (label, _) in configs.items():
            r = results[key]
            print(f"{mode + ' ' + key:28s} {med(r[prefix + '_rate']):9.1f} {1e3 * med(r[prefix + '_p50']):8.2f} "
                  f"{1e3 * med(r[prefix + '_p99']):8.2f}")
        a, b = results["A"], results["B"]
        print(f"{mode + ' A/B':28s} {med(a[prefix + '_rate']) / med(b[prefix + '_rate']):8.1f}x "
              f"{med(b[prefix + '_p50']) / med(a[prefix + '_p50']):7.1f}x (B/A latency)")
    if fail_wrong:
        w, u = med(fail_wrong), med(fail_unknown)
        print(f"\nfailed LOGIN reply, median of {args.failures} attempts each, median over rounds:")
        print(f"  wrong password {1e3 * w:.2f} ms, unknown user {1e3 * u:.2f} ms, unknown/wrong {u / w:.2f}")
        print(f"  distinct reply texts: {len({r.split(b' ', 1)[1] for r in fail_replies})} "
              f"({sorted(fail_replies)[0].decode().strip()!r})")


if __name__ == "__main__":
    main()
