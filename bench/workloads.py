"""The named workloads of bench/run (issue 7), the corpus set-up and the sizes (full and --quick).

Each workload function takes (bench, posthorn, anchor, sizes), probes whether each side can run it,
measures both sides in alternation through bench.alternate() and adds rows through bench.row().
Depends on bench/run (Bench, the servers, probes) and bench/corpus.py. Standard library only."""
import json
import os
import subprocess
import time

import corpus

run = None  # the bench/run module, set by bind()
ANCHOR_ONLY = False  # --anchor-only: Posthorn is skipped (to validate the generators against the anchor)


def bind(module):
    global run
    run = module


def sizes(quick):
    if quick:
        return dict(users=20, mailbox=30, max_size=1_000_000, bigbox=5_000, login_duration=2, login_clients=[1, 20],
                    mix_clients=[20], mix_duration=3, pop3_clients=10, pop3_duration=3, idle=[200],
                    smtp_messages=200, smtp_conns=10, smtp_users=5, settle=7)
    return dict(users=200, mailbox=100, max_size=5_000_000, bigbox=100_000, login_duration=5, login_clients=[1, 50],
                mix_clients=[1, 20, 200], mix_duration=10, pop3_clients=10, pop3_duration=8, idle=[1000, 10000],
                smtp_messages=2000, smtp_conns=20, smtp_users=10, settle=8)


def make_corpus(tmp, ph, anchor, sz):
    """One seeded pool of messages hard-linked into every user's maildir (Dovecot reads those), and a
    pool of small messages linked 'bigbox' times into bigbox@. Posthorn imports the same maildirs."""
    c = tmp / "corpus"
    t0 = time.time()
    nbytes = corpus.write_maildir(c / "pool", seed=1, count=sz["mailbox"], max_size=sz["max_size"])
    corpus.write_maildir(c / "bigpool", seed=2, count=max(run.POP3_MAILBOX, min(1000, sz["bigbox"])), max_size=16384)
    for i in range(1, sz["users"] + 1):
        corpus.write_maildir(anchor.maildir(run.user(i)), seed=1, count=sz["mailbox"], link_from=c / "pool")
    corpus.write_maildir(anchor.maildir(run.BIGBOX), seed=2, count=sz["bigbox"], link_from=c / "bigpool")
    for i in range(1, run.POP3_USERS + 1):
        corpus.write_maildir(anchor.maildir(run.pop3_user(i)), seed=2, count=run.POP3_MAILBOX, link_from=c / "bigpool")
    anchor.fix_owners()
    run.log(f"  corpus written in {time.time() - t0:.1f} s ({nbytes / 1e6:.1f} MB per mailbox, hard-linked)")
    t0 = time.time()
    for i in range(1, sz["users"] + 1):
        if not ph.import_maildir(run.user(i), anchor.maildir(run.user(i))):
            break
    for extra in [run.BIGBOX] + [run.pop3_user(i) for i in range(1, run.POP3_USERS + 1)]:
        if not ph.import_problem:
            ph.import_maildir(extra, anchor.maildir(extra))
    if ph.import_problem:
        run.log(f"  Posthorn import: n/a ({ph.import_problem})")
    else:
        run.log(f"  Posthorn imported the corpus in {time.time() - t0:.1f} s")


def sides(ph, anchor, probe):
    """{'posthorn': server or None, 'anchor': ...} and {side: reason} from probe(server) -> reason|None."""
    out, na = {}, {}
    for s in (ph, anchor):
        why = "skipped (--anchor-only)" if ANCHOR_ONLY and s is ph else probe(s)
        if why and s is ph and ph.import_problem and "empty" in why:
            why = f"{why}; {ph.import_problem}"
        out[s.name] = None if why else s
        if why:
            na[s.name] = why
            run.log(f"  {s.name}: n/a: {why}")
    return out, na


def measured(bench, server, fn, mem=None):
    """Runs fn() while sampling the server's memory; returns (fn's result, peak KB)."""
    with run.PeakSampler(mem or server.memory_kb) as p:
        r = fn()
    return r, p.peak


def check(res, what):
    if res["ops"] == 0:
        raise RuntimeError(f"{what}: no operation succeeded ({res['first_error']})")


# ------------------------------------------------------------------------------------------ login

def w_login(bench, ph, anchor, sz):
    top = max(sz["login_clients"])
    variants = [("imap", False, c, False) for c in sz["login_clients"]]
    variants.append(("imap", True, top, False))  # implicit TLS: the handshake cost
    variants += [("pop3", False, c, False) for c in sz["login_clients"]]
    # Dovecot's auth cache keeps the passdb lookup, not the verification: every Dovecot login verifies
    # Argon2id. Like for like: Posthorn with its verified-credentials cache off.
    variants += [("imap", False, c, True) for c in sz["login_clients"]]
    for proto, tls, clients, cache_off in variants:
        port_name = proto + ("s" if tls else "")
        label = f"login {port_name}, {clients} client{'s' if clients > 1 else ''}"
        if cache_off:
            label += ", Posthorn cache_ttl = 0"
            if not ANCHOR_ONLY:
                ph.restart(cache_ttl=0)
        probe = (lambda s, pn=port_name: run.probe_imap(s.port(pn), run.user(1), need_select=False, tls=tls)) \
            if proto == "imap" else (lambda s, pn=port_name: probe_pop3_login(s.port(pn), tls))
        sd, na = sides(ph, anchor, probe)
        users = top

        def gen(server, duration, proto=proto, tls=tls, clients=clients, port_name=port_name):
            opts = ["--port", server.port(port_name), "--proto", proto, "--clients", clients, "--duration", duration,
                    "--users", users]
            return bench.gen(server, "login", *opts, *(["--tls"] if tls else []))
        for s in sd.values():  # warm-up: every user logs in once (fills both credential caches)
            if s:
                gen(s, 1.0)

        def measure(server, gen=gen):
            res, peak = measured(bench, server, lambda: gen(server, sz["login_duration"]))
            check(res, "login")
            lo = res["ops_by"]["login"]
            return res["ops_per_s"], peak, (f"{res['ops_per_s']:.1f}/s p50 {lo['p50_ms']:.2f} ms p99 {lo['p99_ms']:.2f} ms "
                                            f"err {res['errors']}" + (f" ({res['first_error']})" if res["errors"] else ""))
        run.log(f"  {label}")
        results = bench.alternate(sd, measure)
        bench.row(label, "logins/s", True, results, na)
        if cache_off and not ANCHOR_ONLY:
            ph.restart()


def probe_pop3_login(port, tls):
    try:
        c = run.LineSock(port, tls)
        c.line()
        for cmd in (f"USER {run.user(1)}", f"PASS {run.PASSWORD}"):
            c.send(cmd + "\r\n")
            r = c.line()
            if not r.startswith("+OK"):
                return f"{cmd.split()[0]} answered: {r}"
        c.send("QUIT\r\n")
        c.close()
        return None
    except Exception as e:  # noqa: BLE001
        return f"probe failed: {e}"


# ------------------------------------------------------------------------------------------ pop3

def w_pop3(bench, ph, anchor, sz):
    sd, na = sides(ph, anchor, lambda s: run.probe_pop3(s.port("pop3"), run.pop3_user(1)))
    n = sz["pop3_clients"]

    def measure(server):
        res, peak = measured(bench, server, lambda: bench.gen(
            server, "pop3", "--port", server.port("pop3"), "--clients", n, "--duration", sz["pop3_duration"],
            "--users", min(n, run.POP3_USERS), "--user-fmt", run.POP3_USER_FMT))
        check(res, "pop3")
        by = res["ops_by"]
        v = {"logins": by.get("login", {}).get("per_s", 0), "retr": by.get("RETR", {}).get("per_s", 0),
             "retr_p99": by.get("RETR", {}).get("p99_ms", 0)}
        return v, peak, f"logins/s {v['logins']:.1f} RETR/s {v['retr']:.1f} RETR p99 {v['retr_p99']:.2f} ms " \
                        f"err {res['errors']}"
    run.log(f"  pop3, {n} clients on {run.POP3_USERS} mailboxes of {run.POP3_MAILBOX} messages")
    results = bench.alternate(sd, measure)
    bench.row(f"pop3 sessions, {n} clients", "sessions/s", True, results, na, key="logins")
    bench.row(f"pop3 RETR, {n} clients", "RETR/s", True, results, na, key="retr")
    bench.row(f"pop3 RETR p99, {n} clients", "ms", False, results, na, key="retr_p99")


# ------------------------------------------------------------------------------------------ imap-mix

def w_imap_mix(bench, ph, anchor, sz):
    sd, na = sides(ph, anchor, lambda s: run.probe_imap(s.port("imap"), run.user(1)))
    for n in sz["mix_clients"]:
        def measure(server, n=n):
            res, peak = measured(bench, server, lambda: bench.gen(
                server, "imap-mix", "--port", server.load_port("imap"), "--clients", n, "--duration", sz["mix_duration"],
                "--users", n, "--seed", 7))
            check(res, "imap-mix")
            v = {"ops": res["ops_per_s"], "p50": res["p50_ms"], "p99": res["p99_ms"]}
            slow = sorted(res["ops_by"].items(), key=lambda kv: -kv[1]["p99_ms"])[:3]
            return v, peak, f"ops/s {v['ops']:.1f} p50 {v['p50']:.2f} ms p99 {v['p99']:.2f} ms err {res['errors']}" + \
                (f" ({res['first_error']})" if res["errors"] else "") + \
                "; slowest p99: " + ", ".join(f"{k} {o['p99_ms']:.0f} ms" for k, o in slow) + \
                "; p50 by operation: " + ", ".join(f"{k} {o['p50_ms']:.2f}" for k, o in sorted(res["ops_by"].items()))
        clients = f"{n} client" + ("" if n == 1 else "s")
        run.log(f"  imap-mix, {clients}")
        results = bench.alternate(sd, measure)
        bench.row(f"imap-mix, {clients}", "ops/s", True, results, na, key="ops")
        bench.row(f"imap-mix p50, {clients}", "ms", False, results, na, key="p50")
        bench.row(f"imap-mix p99, {clients}", "ms", False, results, na, key="p99")


# ------------------------------------------------------------------------------------------ imap-bigbox

def w_imap_bigbox(bench, ph, anchor, sz):
    sd, na = sides(ph, anchor, lambda s: run.probe_imap(s.port("imap"), run.BIGBOX))

    def gen(server, iterations):
        return bench.gen(server, "imap-bigbox", "--port", server.port("imap"), "--user-fmt", run.BIGBOX,
                         "--iterations", iterations, "--search", 'FROM "alice"', timeout=1800)
    for s in sd.values():  # the first SELECT builds the server's index: not what is measured
        if s:
            t0 = time.time()
            r = gen(s, 1)
            run.log(f"  {s.name}: first (indexing) SELECT+FETCH+SEARCH {time.time() - t0:.1f} s, errors {r['errors']}")

    def measure(server):  # the median of 3 passes per round: one pass is a single sample
        res, peak = measured(bench, server, lambda: gen(server, 3))
        check(res, "imap-bigbox")
        by = res["ops_by"]
        v = {"fetch": by["SELECT+FETCH-FLAGS"]["p50_ms"], "search": by["SEARCH"]["p50_ms"]}
        return v, peak, f"SELECT+FETCH 1:* FLAGS {v['fetch']:.1f} ms, SEARCH {v['search']:.1f} ms"
    run.log(f"  imap-bigbox, {sz['bigbox']} messages")
    results = bench.alternate(sd, measure)
    bench.row(f"imap-bigbox {sz['bigbox']}: SELECT + FETCH 1:* FLAGS", "ms", False, results, na, key="fetch")
    bench.row(f"imap-bigbox {sz['bigbox']}: SEARCH FROM", "ms", False, results, na, key="search")


# ------------------------------------------------------------------------------------------ imap-idle-memory

def hold_connections(bench, server, n, idle, settle):
    """Restarts the server (freed memory is not always given back to the system, so a baseline taken
    after an earlier round would be too high), opens n authenticated connections (SELECT + IDLE when
    idle), waits `settle` s, measures the server's memory (PSS over all its processes), closes them.
    Returns (KB per connection, total KB, note)."""
    server.restart_for_memory()
    # Every user logs in once first: the password verification's memory (Argon2id: 19 MiB per hashing
    # thread, kept by the allocator) then sits in the baseline, not in the per-connection figure.
    users = bench.sizes["users"]
    bench.gen(server, "login", "--port", server.port("imap"), "--clients", users, "--users", users, "--duration", 0.5)
    time.sleep(1)
    base, nproc0 = server.memory_kb()
    cmd = [bench.load, "imap-idle", "--port", str(server.port("imap")), "--connections", str(n), "--users",
           str(bench.sizes["users"]), "--ramp", "200"] + ([] if idle else ["--no-idle"])
    t0 = time.time()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ok = False
    try:
        line = p.stdout.readline()
        if not line:
            raise RuntimeError(f"imap-idle generator ended early: {p.stderr.read()[-300:]}")
        ready = json.loads(line)
        setup = time.time() - t0
        time.sleep(settle)  # Dovecot moves IDLE connections to imap-hibernate after 5 s
        total, nproc = server.memory_kb()
        ok = True
    finally:
        if not ok:
            p.kill()
        p.stdin.close()
        out = p.stdout.read()
        p.wait(timeout=300)
    final = json.loads(out.strip().splitlines()[-1])
    if ready["ready"] == 0:
        raise RuntimeError(f"imap-idle: no connection ready ({ready['first_error']})")
    per = (total - base) / ready["ready"]
    return per, total, (f"{ready['ready']}/{n} ready in {setup:.1f} s, {nproc} processes, "
                        f"{(total - base) / 1024:.1f} MB over baseline, errors {final['errors']}")


def w_imap_idle_memory(bench, ph, anchor, sz):
    bench.sizes = sz
    sd_idle, na_idle = sides(ph, anchor, lambda s: run.probe_imap(s.port("imap"), run.user(1)))
    sd_auth, na_auth = sides(ph, anchor, lambda s: run.probe_imap(s.port("imap"), run.user(1), need_select=False))
    # Memory, not login speed, is measured here. Dovecot verifies Argon2id on every login (its cache keeps
    # the lookup, not the verification), about 10 logins/s on this machine: 10,000 connections would take
    # a quarter of an hour per round. So for this workload only Dovecot runs with the {PLAIN} passdb
    # (ANCHOR-SETUP's scheme); Posthorn keeps Argon2id (its verified-credentials cache makes logins cheap).
    plain = bool(sd_idle.get("anchor") or sd_auth.get("anchor"))
    if plain:
        run.log("  Dovecot restarted with the {PLAIN} passdb for this workload (see the README)")
        anchor.restart_dovecot(plain=True)
    try:
        for i, n in enumerate(sz["idle"]):
            variants = [("IDLE (SELECT + IDLE)", True, sd_idle, na_idle)]
            if i == 0:
                variants.append(("LOGIN only, no SELECT", False, sd_auth, na_auth))
            for label, idle, sd, na in variants:
                def measure(server, n=n, idle=idle):
                    per, total, note = hold_connections(bench, server, n, idle, sz["settle"])
                    return per, total, f"{per:.1f} KB/conn; " + note
                run.log(f"  imap-idle-memory {n}: {label}")
                # The largest size runs one round per side unless --rounds says otherwise: Dovecot sets up
                # about 25 connections/s here, so 10,000 take minutes (memory per connection varies little).
                rounds = 1 if (n >= 10000 and not bench.args.rounds_set) else None
                results = bench.alternate(sd, measure, rounds=rounds)
                bench.row(f"imap-idle-memory {n}: {label}", "KB/connection", False, results, na)
    finally:
        if plain:
            anchor.restart_dovecot(plain=False)


# ------------------------------------------------------------------------------------------ smtp-deliver

def w_smtp_deliver(bench, ph, anchor, sz):
    rcpts = [run.user(i) for i in range(1, sz["smtp_users"] + 1)]

    def probe(s):
        if s is anchor and anchor.postfix_problem:
            return anchor.postfix_problem
        why = run.probe_smtp(s.port(s.smtp_name), rcpts[0])
        if why:
            return why
        try:  # delivery is counted over IMAP: STATUS must work too
            c = run.MailboxCounter(s.port("imap"), rcpts[:1])
            c.total()
            c.close()
        except Exception as e:  # noqa: BLE001
            return f"delivery cannot be counted: {e}"
        return None
    sd, na = sides(ph, anchor, probe)
    m, conns = sz["smtp_messages"], sz["smtp_conns"]

    def measure(server):
        counter = run.MailboxCounter(server.port("imap"), rcpts)
        mem = (lambda: server.memory_kb(with_postfix=True)) if server is anchor else server.memory_kb
        try:
            before = counter.total()
            t0 = time.time()

            def send_and_wait():
                res = bench.gen(server, "smtp", "--port", server.load_port(server.smtp_name), "--connections", conns,
                                "--messages", m, "--size", 10240, "--users", len(rcpts), "--seed", int(t0))
                check(res, "smtp")
                accepted = res["ops"]
                t_acc = time.time() - t0
                deadline = time.time() + 300
                got = 0
                while time.time() < deadline:
                    got = counter.total() - before
                    if got >= accepted:
                        break
                    time.sleep(0.05)
                return res, accepted, t_acc, got, time.time() - t0
            (res, accepted, t_acc, got, t_all), peak = measured(bench, server, send_and_wait, mem)
        finally:
            counter.close()
        if got < accepted:
            raise RuntimeError(f"smtp-deliver: only {got} of {accepted} accepted messages delivered in 300 s")
        v = {"delivered": accepted / t_all, "accepted": accepted / t_acc}
        return v, peak, (f"{accepted} accepted in {t_acc:.1f} s ({v['accepted']:.1f}/s), all in the mailboxes after "
                         f"{t_all:.1f} s ({v['delivered']:.1f}/s), errors {res['errors']}")
    run.log(f"  smtp-deliver: {m} messages of 10 KB over {conns} connections to {len(rcpts)} mailboxes")
    results = bench.alternate(sd, measure)
    bench.row(f"smtp-deliver, {conns} connections (until in the mailbox)", "messages/s", True, results, na,
              key="delivered")
    bench.row(f"smtp-deliver, {conns} connections (accepted)", "messages/s", True, results, na, key="accepted")


WORKLOADS = {"login": w_login, "pop3": w_pop3, "imap-mix": w_imap_mix, "imap-bigbox": w_imap_bigbox,
             "imap-idle-memory": w_imap_idle_memory, "smtp-deliver": w_smtp_deliver}
