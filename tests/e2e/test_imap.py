"""End-to-end IMAP pre-login tests: the real binary, real clients (imaplib, curl, openssl s_client).

Mailbox commands are tested in test_imap_mail.py."""
import base64
import hashlib
import hmac
import imaplib
import os
import socket
import ssl
import subprocess

import pytest

# curl exit codes (libcurl-errors(3)).
CURLE_LOGIN_DENIED = 67


def imap_starttls(server):
    conn = imaplib.IMAP4("localhost", server.ports["imap"])
    conn.starttls(ssl_context=server.ssl_context())
    return conn


def test_starttls_then_login(server):
    conn = imaplib.IMAP4("localhost", server.ports["imap"])
    assert "STARTTLS" in conn.capabilities
    assert "IMAP4REV2" in conn.capabilities
    conn.starttls(ssl_context=server.ssl_context())
    # Re-advertised after TLS, without STARTTLS.
    assert "STARTTLS" not in conn.capabilities
    assert "AUTH=PLAIN" in conn.capabilities
    typ, data = conn.login(server.user, server.password)
    assert typ == "OK"
    assert b"LOGIN completed" in data[0]
    typ, data = conn.capability()
    assert typ == "OK"
    caps = data[0].split()
    assert caps[:3] == [b"IMAP4rev1", b"IMAP4rev2", b"LITERAL+"]
    assert b"IDLE" in caps and b"AUTH=PLAIN" not in caps
    typ, data = conn.logout()
    assert typ == "BYE"


def test_implicit_tls_login(server):
    conn = imaplib.IMAP4_SSL("localhost", server.ports["imaps"], ssl_context=server.ssl_context())
    assert "STARTTLS" not in conn.capabilities
    assert "LOGINDISABLED" not in conn.capabilities
    typ, _ = conn.login(server.user, server.password)
    assert typ == "OK"
    conn.logout()


def test_authenticate_plain(server):
    conn = imap_starttls(server)
    auth = f"\0{server.user}\0{server.password}".encode()
    typ, data = conn.authenticate("PLAIN", lambda _challenge: auth)
    assert typ == "OK"
    assert b"Authenticated" in data[0]
    conn.logout()


def test_wrong_password_is_authenticationfailed(server):
    conn = imap_starttls(server)
    with pytest.raises(imaplib.IMAP4.error) as err:
        conn.login(server.user, "not the password")
    assert "AUTHENTICATIONFAILED" in str(err.value)
    # The connection stays usable and the right password still works.
    typ, _ = conn.login(server.user, server.password)
    assert typ == "OK"
    conn.logout()


def test_search_of_an_empty_inbox_and_an_unbuilt_command(server):
    conn = imap_starttls(server)
    conn.login(server.user, server.password)
    typ, _ = conn.select("INBOX")
    assert typ == "OK"
    typ, data = conn.search(None, "ALL")
    assert typ == "OK" and data == [b""], data
    # A command that is not built says so instead of pretending.
    with pytest.raises(imaplib.IMAP4.error) as err:
        conn._simple_command("GETACL", "INBOX")
    assert "Unknown command or not available" in str(err.value)
    conn.logout()


class ScramSha256:
    """A minimal SCRAM-SHA-256 client [RFC 5802, RFC 7677] for imaplib.authenticate."""

    def __init__(self, user, password):
        self.user = user
        self.password = password
        self.cnonce = base64.b64encode(os.urandom(18)).decode()
        self.client_first_bare = f"n={user},r={self.cnonce}"
        self.step = 0
        self.server_signature = None
        self.verified = False

    def __call__(self, challenge):
        self.step += 1
        if self.step == 1:
            return ("n,," + self.client_first_bare).encode()
        if self.step == 2:
            server_first = challenge.decode()
            attrs = dict(item.split("=", 1) for item in server_first.split(","))
            assert attrs["r"].startswith(self.cnonce)
            salt = base64.b64decode(attrs["s"])
            salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), salt, int(attrs["i"]))
            client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
            stored_key = hashlib.sha256(client_key).digest()
            without_proof = "c=biws,r=" + attrs["r"]
            auth_message = ",".join([self.client_first_bare, server_first, without_proof]).encode()
            signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
            proof = bytes(a ^ b for a, b in zip(client_key, signature))
            server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
            self.server_signature = hmac.new(server_key, auth_message, hashlib.sha256).digest()
            return (without_proof + ",p=" + base64.b64encode(proof).decode()).encode()
        # Server-final message: check the server's signature, answer with an empty response.
        final = challenge.decode()
        self.verified = final == "v=" + base64.b64encode(self.server_signature).decode()
        return b""


def test_scram_sha_256(server):
    conn = imap_starttls(server)
    assert "AUTH=SCRAM-SHA-256" in conn.capabilities
    client = ScramSha256(server.user, server.password)
    typ, data = conn.authenticate("SCRAM-SHA-256", client)
    assert typ == "OK"
    assert client.verified, "server signature did not verify"
    conn.logout()


def test_scram_sha_256_wrong_password(server):
    conn = imap_starttls(server)
    with pytest.raises(imaplib.IMAP4.error) as err:
        conn.authenticate("SCRAM-SHA-256", ScramSha256(server.user, "wrong"))
    assert "AUTHENTICATIONFAILED" in str(err.value)
    conn.logout()


def run_curl(server, url, user, password):
    port = server.ports["imaps" if url.startswith("imaps") else "imap"]
    cmd = ["curl", "-v", "--max-time", "30", "--ssl-reqd", "--cacert", str(server.cert),
           "--resolve", f"localhost:{port}:127.0.0.1", url.format(port=port), "-u", f"{user}:{password}"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("url", ["imap://localhost:{port}/", "imaps://localhost:{port}/"])
def test_curl_logs_in(server, url):
    proc = run_curl(server, url, server.user, server.password)
    log = proc.stderr
    # Logged in over TLS; curl then LISTs the mailboxes (test_imap_mail.py covers the mail commands).
    assert "OK [CAPABILITY" in log, log
    assert ("LOGIN completed" in log) or ("Authenticated" in log), log
    assert "SSL connection using TLSv1." in log, log
    assert proc.returncode == 0, (proc.returncode, log)
    assert "INBOX" in proc.stdout, proc.stdout


def test_curl_wrong_password_is_login_denied(server):
    proc = run_curl(server, "imap://localhost:{port}/", server.user, "wrong")
    assert proc.returncode == CURLE_LOGIN_DENIED, (proc.returncode, proc.stderr)


def test_openssl_s_client_starttls(server):
    proc = subprocess.run(
        ["openssl", "s_client", "-starttls", "imap", "-connect", f"127.0.0.1:{server.ports['imap']}",
         "-servername", "localhost", "-verify_hostname", "localhost", "-CAfile", str(server.cert),
         "-verify_return_error", "-ign_eof"],
        input="z LOGOUT\r\n", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Verify return code: 0 (ok)" in proc.stdout, proc.stdout
    assert "* BYE Logging out" in proc.stdout, proc.stdout
    assert "z OK LOGOUT completed" in proc.stdout, proc.stdout


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls_1_1_refused(server):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1_1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    with socket.create_connection(("127.0.0.1", server.ports["imaps"]), timeout=10) as raw:
        with pytest.raises(ssl.SSLError) as err:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.recv(100)
    # The server refused the version (an alert from it), not our own client configuration.
    assert "PROTOCOL_VERSION" in str(err.value).upper(), str(err.value)


def read_line(sock_file):
    return sock_file.readline().decode()


def test_injection_after_starttls_is_not_executed(server):
    with socket.create_connection(("127.0.0.1", server.ports["imap"]), timeout=10) as raw:
        f = raw.makefile("rb")
        assert read_line(f).startswith("* OK [CAPABILITY ")
        raw.sendall(b"a STARTTLS\r\nb NOOP\r\n")
        assert read_line(f) == "a OK Begin TLS negotiation now\r\n"
        tls = server.ssl_context().wrap_socket(raw, server_hostname="localhost")
        tf = tls.makefile("rb")
        tls.sendall(b"c NOOP\r\n")
        line = read_line(tf)
        assert line == "c OK NOOP completed\r\n", line
        tls.sendall(b"d LOGOUT\r\n")
        rest = tf.read().decode()
        assert "b OK" not in rest
    assert "discarded 8 bytes pipelined after STARTTLS" in server.log_text()


def test_shutdown_says_bye(server):
    with socket.create_connection(("127.0.0.1", server.ports["imap"]), timeout=10) as raw:
        f = raw.makefile("rb")
        assert read_line(f).startswith("* OK [CAPABILITY ")
        assert server.stop() == 0
        assert read_line(f) == "* BYE Server shutting down\r\n"


def test_imaplib_enables_utf8_accept_right_after_login(server):
    """Issue 28 item 8: Python's imaplib only sends ENABLE when the capabilities it read before login
    list it [RFC 5161 §3.1]; ENABLE UTF8=ACCEPT [RFC 6855 §3] must then work at once, with no
    second CAPABILITY command."""
    for conn in (imaplib.IMAP4("localhost", server.ports["imap"]),
                 imaplib.IMAP4_SSL("localhost", server.ports["imaps"], ssl_context=server.ssl_context())):
        assert "ENABLE" in conn.capabilities
        typ, _ = conn.login(server.user, server.password)
        assert typ == "OK"
        typ, data = conn.enable("UTF8=ACCEPT")  # imaplib raises if ENABLE was not advertised
        assert typ == "OK"
        assert conn.utf8_enabled
        assert b"UTF8=ACCEPT" in conn.untagged_responses.get("ENABLED", [b""])[-1].upper()
        typ, _ = conn.select("INBOX")
        assert typ == "OK"
        conn.logout()
