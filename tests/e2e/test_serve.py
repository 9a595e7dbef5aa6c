"""posthorn serve as a whole: TLS on every listener, certificate reload on SIGHUP, connection limits,
graceful shutdown, input bounds, metrics, privilege drop."""
import os
import pwd
import re
import signal
import socket
import ssl
import subprocess
import time
import urllib.request

import pytest

from conftest import BIN

STARTTLS = {"mx": "smtp", "submission": "smtp", "imap": "imap", "pop3": "pop3"}
IMPLICIT = ["submissions", "imaps", "pop3s"]


def s_client(args, input_text="", timeout=30):
    return subprocess.run(["openssl", "s_client", *args], input=input_text, capture_output=True, text=True,
                          timeout=timeout)


def peer_subject(port, starttls=None):
    args = ["-connect", f"127.0.0.1:{port}", "-servername", "localhost"]
    if starttls:
        args += ["-starttls", starttls]
    out = s_client(args).stdout
    m = re.search(r"^subject=(.*)$", out, re.M)
    return m.group(1) if m else None, out


@pytest.mark.parametrize("name", IMPLICIT)
def test_implicit_tls_handshake_on_every_port(server, name):
    subject, out = peer_subject(server.ports[name])
    assert subject and "localhost" in subject, out
    assert re.search(r"^New, TLSv1\.[23], Cipher is \S+", out, re.M), out


@pytest.mark.parametrize("name", sorted(STARTTLS))
def test_starttls_handshake_on_every_port(server, name):
    subject, out = peer_subject(server.ports[name], STARTTLS[name])
    assert subject and "localhost" in subject, out


@pytest.mark.parametrize("name", IMPLICIT)
def test_tls_1_1_and_1_0_refused(server, name):
    for flag in ("-tls1_1", "-tls1"):
        out = s_client(["-connect", f"127.0.0.1:{server.ports[name]}", flag, "-cipher", "DEFAULT@SECLEVEL=0"])
        assert "Cipher is (NONE)" in out.stdout or out.returncode != 0, out.stdout


def test_weak_ciphers_refused(server):
    out = s_client(["-connect", f"127.0.0.1:{server.ports['imaps']}", "-tls1_2", "-cipher", "AES128-SHA:RC4:3DES"])
    assert "Cipher is (NONE)" in out.stdout or out.returncode != 0


def metrics(server):
    with urllib.request.urlopen(f"http://127.0.0.1:{server.ports['admin']}/metrics", timeout=10) as r:
        assert r.status == 200
        return r.read().decode()


def metric(text, name, **labels):
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    m = re.search(rf"^{re.escape(name)}\{{{re.escape(want)}\}} (\d+)$", text, re.M)
    return int(m.group(1)) if m else None


def test_health_and_metrics(server):
    with urllib.request.urlopen(f"http://127.0.0.1:{server.ports['admin']}/health", timeout=10) as r:
        assert r.read() == b"ok\n"
    before = metrics(server)
    peer_subject(server.ports["imaps"])
    after = metrics(server)
    assert metric(after, "posthorn_tls_handshakes_total", protocol="imap") > metric(
        before, "posthorn_tls_handshakes_total", protocol="imap")
    assert metric(after, "posthorn_connections_total", protocol="imap") >= 1
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"http://127.0.0.1:{server.ports['admin']}/nope", timeout=10)
    assert e.value.code == 404


def test_sighup_reloads_certificate_without_dropping_connections(server):
    ctx = ssl.create_default_context(cafile=str(server.cert))
    old = ctx.wrap_socket(socket.create_connection(("127.0.0.1", server.ports["imaps"]), timeout=10),
                          server_hostname="localhost")
    f = old.makefile("rb")
    assert f.readline().startswith(b"* OK")

    new_key = server.root / "tls" / "new-key.pem"
    new_cert = server.root / "tls" / "new-cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(new_key), "-out",
                    str(new_cert), "-days", "2", "-subj", "/CN=reloaded.test", "-addext",
                    "subjectAltName=DNS:reloaded.test"], check=True, capture_output=True)
    os.replace(new_key, server.root / "tls" / "key.pem")
    os.replace(new_cert, server.root / "tls" / "cert.pem")
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 15
    while time.time() < deadline and "certificates reloaded" not in server.log_text():
        time.sleep(0.1)
    assert "certificates reloaded" in server.log_text()

    subject, out = peer_subject(server.ports["imaps"])
    assert subject and "reloaded.test" in subject, out
    # The connection made before the reload still works on its old certificate.
    old.sendall(b"a1 NOOP\r\n")
    assert f.readline().startswith(b"a1 OK")
    old.close()


def test_sighup_with_broken_certificate_keeps_serving(server):
    (server.root / "tls" / "key.pem").write_text("not a key\n")
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 15
    while time.time() < deadline and "keeping the running configuration" not in server.log_text():
        time.sleep(0.1)
    assert "keeping the running configuration" in server.log_text()
    subject, out = peer_subject(server.ports["imaps"])
    assert subject and "localhost" in subject, out


def read_line(sock):
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def test_per_ip_connection_limit(fresh):
    s = fresh
    s.init()
    text = s.config.read_text().replace("# [limits]", "[limits]\nmax_connections_per_ip = 3\n# ", 1)
    s.config.write_text(text)
    s.start()
    s.metrics_source = "127.0.0.2"  # reading /metrics must not take one of 127.0.0.1's three connections
    for proto in ("imap", "smtp", "pop3"):  # start() probed the ports: those sessions end first
        s.wait_idle(proto)
    try:
        socks = [socket.create_connection(("127.0.0.1", s.ports["imap"]), timeout=10) for _ in range(3)]
        for c in socks:
            assert read_line(c).startswith(b"* OK")
        extra = socket.create_connection(("127.0.0.1", s.ports["imap"]), timeout=10)
        assert read_line(extra).startswith(b"* BYE")
        assert read_line(extra) == b""  # closed
        smtp_extra = socket.create_connection(("127.0.0.1", s.ports["mx"]), timeout=10)
        assert read_line(smtp_extra).startswith(b"421 ")
        pop_extra = socket.create_connection(("127.0.0.1", s.ports["pop3"]), timeout=10)
        assert read_line(pop_extra).startswith(b"-ERR")
        for c in socks + [extra, smtp_extra, pop_extra]:
            c.close()
        s.wait_idle("imap")
        again = socket.create_connection(("127.0.0.1", s.ports["imap"]), timeout=10)
        assert read_line(again).startswith(b"* OK")
        again.close()
    finally:
        assert s.stop() == 0


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@pytest.mark.parametrize("name", ["imap", "mx", "pop3"])
def test_ten_megabytes_without_newline_is_cut_off(server, name):
    before = rss_kib(server.proc.pid)
    c = socket.create_connection(("127.0.0.1", server.ports[name]), timeout=10)
    read_line(c)
    chunk = b"x" * 65536
    sent = 0
    try:
        while sent < 10 * 1024 * 1024:
            c.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass  # the server closed on us: expected
    c.settimeout(10)
    rest = b""
    try:
        while True:
            data = c.recv(65536)
            if not data:
                break
            rest += data
    except OSError:
        pass
    c.close()
    assert sent < 10 * 1024 * 1024 or rest, "server neither replied nor closed"
    assert re.search(rb"(too long|Line too long|500 5\.5\.6)", rest, re.I), rest
    # Bounded memory: far less than the 10 MB that were offered (ASan inflates RSS, so be generous).
    assert rss_kib(server.proc.pid) - before < 8 * 1024


def test_sigterm_says_goodbye_to_idle_sessions_and_exits_cleanly(server):
    imap = socket.create_connection(("127.0.0.1", server.ports["imap"]), timeout=10)
    smtp = socket.create_connection(("127.0.0.1", server.ports["mx"]), timeout=10)
    pop = socket.create_connection(("127.0.0.1", server.ports["pop3"]), timeout=10)
    for c in (imap, smtp, pop):
        read_line(c)
    start = time.time()
    server.proc.send_signal(signal.SIGTERM)
    assert read_line(imap).startswith(b"* BYE")
    assert read_line(smtp).startswith(b"421")
    assert read_line(pop).startswith(b"-ERR")
    assert server.proc.wait(timeout=20) == 0
    assert time.time() - start < 10
    # New connections are refused once stopped.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.ports["imap"]), timeout=2)


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_drops_privileges_after_binding(fresh):
    s = fresh
    s.init()
    user = "nobody"
    text = s.config.read_text().replace('# run_as_user = "posthorn"', f'run_as_user = "{user}"', 1)
    s.config.write_text(text)
    # The service user must be able to reach the folder and read the certificate after a reload.
    os.chmod(s.root, 0o755)
    s.start()
    try:
        # The ports are open (listen) before the drop; wait for the server to say it dropped.
        deadline = time.time() + 15
        while time.time() < deadline and "dropped privileges" not in s.log_text():
            time.sleep(0.05)
        assert "dropped privileges to nobody" in s.log_text()
        uid = pwd.getpwnam(user).pw_uid
        status = open(f"/proc/{s.proc.pid}/status").read()
        m = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", status, re.M)
        assert m and all(int(x) == uid for x in m.groups()), status
        assert os.stat(s.root / "data").st_uid == uid
        c = socket.create_connection(("127.0.0.1", s.ports["imap"]), timeout=10)
        assert read_line(c).startswith(b"* OK")
        c.close()
    finally:
        assert s.stop() == 0


def test_check_config_reports_listeners_and_bad_certificates(server):
    out = server.cli("check-config")
    assert "configuration OK" in out.stdout
    assert "imaps" in out.stdout and str(server.ports["imaps"]) in out.stdout
    (server.root / "tls" / "key.pem").write_text("garbage\n")
    bad = server.cli("check-config", check=False)
    assert bad.returncode != 0
    assert "key" in bad.stderr


def test_serve_refuses_a_port_in_use(fresh):
    s = fresh
    s.init()
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", s.ports["imap"]))
    blocker.listen()
    try:
        proc = subprocess.run([BIN, "--config", str(s.config), "serve"],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode != 0
        assert str(s.ports["imap"]) in proc.stderr and "cannot listen" in proc.stderr
    finally:
        blocker.close()
