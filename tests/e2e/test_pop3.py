"""End-to-end POP3 login: the real binary, real clients (poplib, curl, openssl s_client).

Greeting, CAPA, STLS, implicit TLS, USER/PASS, SASL (SCRAM-SHA-256 with a small client written
here) and TLS version policy. The maildrop commands are in test_pop3_maildrop.py."""
import base64
import hashlib
import hmac
import os
import poplib
import socket
import ssl
import subprocess

import pytest

HOST = "localhost"  # the certificate is issued for "localhost"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def capa_names(pop):
    return set(pop.capa().keys())


def test_greeting_capa_stls_and_login(server):
    pop = poplib.POP3(HOST, server.ports["pop3"], timeout=10)
    try:
        assert pop.getwelcome() == b"+OK Posthorn POP3 ready."
        caps = pop.capa()
        assert "STLS" in caps
        assert "RESP-CODES" in caps
        assert "AUTH-RESP-CODE" in caps
        assert "PIPELINING" in caps
        assert caps["IMPLEMENTATION"] == ["Posthorn"]
        assert "SCRAM-SHA-256" in caps["SASL"]

        pop.stls(context=server.ssl_context())
        after = pop.capa()
        assert "STLS" not in after
        assert "USER" in after
        assert "PLAIN" in after["SASL"]
        assert "SCRAM-SHA-256-PLUS" in after["SASL"]

        assert pop.user(server.user).startswith(b"+OK")
        assert pop.pass_(server.password) == b"+OK Logged in."
        assert pop.noop() == b"+OK"
        assert pop.stat() == (0, 0)
        assert pop.quit() == b"+OK Bye"
    finally:
        pop.close()


def test_implicit_tls(server):
    pop = poplib.POP3_SSL(HOST, server.ports["pop3s"], context=server.ssl_context(), timeout=10)
    try:
        assert pop.getwelcome() == b"+OK Posthorn POP3 ready."
        caps = pop.capa()
        assert "STLS" not in caps
        assert "USER" in caps
        pop.user(server.user)
        assert pop.pass_(server.password) == b"+OK Logged in."
        pop.quit()
    finally:
        pop.close()


def test_wrong_password(server):
    pop = poplib.POP3_SSL(HOST, server.ports["pop3s"], context=server.ssl_context(), timeout=10)
    try:
        pop.user(server.user)
        with pytest.raises(poplib.error_proto) as e:
            pop.pass_("not the password")
        assert e.value.args[0].startswith(b"-ERR [AUTH]")
        # The failed PASS forgot the USER [RFC 1939 §7].
        with pytest.raises(poplib.error_proto):
            pop.pass_(server.password)
        pop.user(server.user)
        assert pop.pass_(server.password) == b"+OK Logged in."
    finally:
        pop.close()


def test_unknown_and_unauthenticated_commands(server):
    pop = poplib.POP3(HOST, server.ports["pop3"], timeout=10)
    try:
        with pytest.raises(poplib.error_proto) as e:
            pop._shortcmd("XYZZ")
        assert e.value.args[0] == b"-ERR Unknown command"
        with pytest.raises(poplib.error_proto) as e:
            pop.stat()
        assert e.value.args[0] == b"-ERR Not authenticated"
    finally:
        pop.close()


def scram_login(pop, user, password, mechanism="SCRAM-SHA-256", cbind=b"", cb_type="tls-exporter"):
    """A minimal SCRAM-SHA-256(-PLUS) client [RFC 5802, RFC 7677, RFC 9266] over poplib internals.
    Returns the final reply; raises poplib.error_proto on -ERR."""
    gs2 = f"p={cb_type},,".encode() if cbind else b"n,,"
    cnonce = b64(os.urandom(18))
    first_bare = f"n={user},r={cnonce}".encode()
    resp = pop._shortcmd(f"AUTH {mechanism} {b64(gs2 + first_bare)}")
    assert resp.startswith(b"+ "), resp
    server_first = base64.b64decode(resp[2:])
    attrs = dict(part.split(b"=", 1) for part in server_first.split(b","))
    nonce, salt, iterations = attrs[b"r"], base64.b64decode(attrs[b"s"]), int(attrs[b"i"])
    assert nonce.startswith(cnonce.encode())
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = b"c=" + base64.b64encode(gs2 + cbind) + b",r=" + nonce
    auth_message = first_bare + b"," + server_first + b"," + without_proof
    signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    resp = pop._shortcmd(b64(without_proof + b",p=" + base64.b64encode(proof)))
    assert resp.startswith(b"+ "), resp
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    expected = b"v=" + base64.b64encode(hmac.new(server_key, auth_message, hashlib.sha256).digest())
    assert base64.b64decode(resp[2:]) == expected
    return pop._shortcmd("")


def test_scram_sha_256(server):
    pop = poplib.POP3(HOST, server.ports["pop3"], timeout=10)
    try:
        assert scram_login(pop, server.user, server.password) == b"+OK Authenticated"
        assert pop.noop() == b"+OK"
    finally:
        pop.close()


def test_scram_sha_256_plus_over_stls(server):
    pop = poplib.POP3(HOST, server.ports["pop3"], timeout=10)
    try:
        pop.stls(context=server.ssl_context())
        if not hasattr(pop.sock, "get_channel_binding") or "tls-exporter" not in ssl.CHANNEL_BINDING_TYPES:
            # Python 3.11 only exposes tls-unique; check plain SCRAM over TLS instead.
            assert scram_login(pop, server.user, server.password) == b"+OK Authenticated"
            return
        cbind = pop.sock.get_channel_binding("tls-exporter")
        assert scram_login(pop, server.user, server.password, "SCRAM-SHA-256-PLUS", cbind) \
            == b"+OK Authenticated"
    finally:
        pop.close()


def test_scram_sha_256_plus_with_tls_unique_under_tls_1_2(server):
    """RFC 5802 §6 makes tls-unique [RFC 5929] the channel binding every server must support; GNU
    SASL clients send it under TLS 1.2 (issue 28 item 6). Under TLS 1.3 it is undefined [RFC 9266]
    and refused."""
    ctx = server.ssl_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    pop = poplib.POP3(HOST, server.ports["pop3"], timeout=10)
    try:
        pop.stls(context=ctx)
        assert pop.sock.version() == "TLSv1.2"
        assert "SCRAM-SHA-256-PLUS" in pop.capa()["SASL"]
        cbind = pop.sock.get_channel_binding("tls-unique")
        assert scram_login(pop, server.user, server.password, "SCRAM-SHA-256-PLUS", cbind, "tls-unique") \
            == b"+OK Authenticated"
    finally:
        pop.close()
    pop = poplib.POP3(HOST, server.ports["pop3"], timeout=10)
    try:
        pop.stls(context=server.ssl_context())
        assert pop.sock.version() == "TLSv1.3"
        with pytest.raises(poplib.error_proto):
            scram_login(pop, server.user, server.password, "SCRAM-SHA-256-PLUS", b"x" * 12, "tls-unique")
    finally:
        pop.close()


def test_scram_wrong_password(server):
    pop = poplib.POP3(HOST, server.ports["pop3"], timeout=10)
    try:
        with pytest.raises(poplib.error_proto) as e:
            scram_login(pop, server.user, "wrong password")
        assert e.value.args[0] == b"-ERR [AUTH] Authentication failed"
        with pytest.raises(poplib.error_proto) as e:
            pop.noop()
        assert e.value.args[0] == b"-ERR Not authenticated"
    finally:
        pop.close()


def test_curl_login_over_stls(server):
    port = server.ports["pop3"]
    proc = subprocess.run(
        ["curl", "-v", "--ssl-reqd", "--cacert", str(server.cert), "--max-time", "20",
         "--resolve", f"localhost:{port}:127.0.0.1", f"pop3://localhost:{port}/",
         "-u", f"{server.user}:{server.password}"],
        capture_output=True, text=True, timeout=60)
    out = proc.stderr
    assert "< +OK Posthorn POP3 ready." in out
    assert "> STLS" in out
    assert "< +OK Begin TLS negotiation" in out
    # curl prefers SASL when CAPA offers it (curl 7.88 sends AUTH PLAIN here, so the reply is
    # "+OK Authenticated"); it falls back to USER/PASS ("+OK Logged in.") without a usable mechanism.
    assert "< +OK Authenticated" in out or "< +OK Logged in." in out, out
    # Then the LIST of the (empty) maildrop.
    assert proc.returncode == 0, out
    assert "< +OK Scan listing follows" in out


def test_curl_wrong_password_is_login_denied(server):
    port = server.ports["pop3"]
    proc = subprocess.run(
        ["curl", "-v", "--ssl-reqd", "--cacert", str(server.cert), "--max-time", "20",
         "--resolve", f"localhost:{port}:127.0.0.1", f"pop3://localhost:{port}/",
         "-u", f"{server.user}:wrong"],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 67, proc.stderr
    assert "-ERR [AUTH] Authentication failed" in proc.stderr


def test_openssl_s_client_starttls(server):
    proc = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{server.ports['pop3']}", "-starttls", "pop3",
         "-CAfile", str(server.cert), "-verify_hostname", "localhost", "-verify_return_error",
         "-crlf", "-ign_eof"],
        input="CAPA\nQUIT\n", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Verify return code: 0 (ok)" in proc.stdout
    assert "IMPLEMENTATION Posthorn" in proc.stdout
    assert "+OK Bye" in proc.stdout


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls_1_1_refused(server):
    def context(maximum):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client offer TLS 1.1: the server must refuse
        ctx.minimum_version = ssl.TLSVersion.TLSv1_1
        ctx.maximum_version = maximum
        return ctx

    port = server.ports["pop3s"]
    with pytest.raises(ssl.SSLError) as e:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with context(ssl.TLSVersion.TLSv1_1).wrap_socket(raw, server_hostname=HOST):
                pass
    # The server's "protocol version" alert, not a refusal by the client's own OpenSSL.
    assert "ALERT_PROTOCOL_VERSION" in str(e.value)
    # The same client allowed TLS 1.2 gets in: the refusal above came from the server's policy.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context(ssl.TLSVersion.TLSv1_2).wrap_socket(raw, server_hostname=HOST) as tls:
            assert tls.version() == "TLSv1.2"
            assert tls.recv(100).startswith(b"+OK Posthorn POP3 ready.")


def test_stls_pipelined_plaintext_is_discarded(server):
    raw = socket.create_connection(("127.0.0.1", server.ports["pop3"]), timeout=10)
    f = raw.makefile("rb")
    assert f.readline() == b"+OK Posthorn POP3 ready.\r\n"
    raw.sendall(b"STLS\r\nCAPA\r\n")  # CAPA rides along in plaintext: it must never run
    assert f.readline() == b"+OK Begin TLS negotiation\r\n"
    tls = server.ssl_context().wrap_socket(raw, server_hostname=HOST)
    tf = tls.makefile("rb")
    tls.sendall(b"NOOP\r\n")
    assert tf.readline() == b"-ERR Not authenticated\r\n"  # not "+OK Capability list follows"
    tls.sendall(b"QUIT\r\n")
    assert tf.readline() == b"+OK Bye\r\n"
    tls.close()
    assert "discarded 6 bytes pipelined after STARTTLS" in server.log_text()
