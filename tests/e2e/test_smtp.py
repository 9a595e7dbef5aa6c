"""SMTP end to end: the real binary with real clients (smtplib, swaks, openssl s_client).
Covers the pre-login half: greeting, EHLO, STARTTLS, implicit TLS, AUTH PLAIN/LOGIN/SCRAM-SHA-256."""
import base64
import hashlib
import hmac
import os
import smtplib
import socket
import subprocess
import time

import pytest

HOST = "localhost"  # the certificate's name; the dev listeners are on 127.0.0.1


def submission(server):
    smtp = smtplib.SMTP(HOST, server.ports["submission"], timeout=30)
    smtp.ehlo("client.example")
    return smtp


def test_greeting_and_ehlo_on_mx_has_no_auth(server):
    smtp = smtplib.SMTP(HOST, server.ports["mx"], timeout=30)
    code, msg = smtp.ehlo("client.example")
    assert code == 250
    assert smtp.has_extn("starttls")
    assert smtp.has_extn("pipelining")
    assert smtp.has_extn("enhancedstatuscodes")
    assert not smtp.has_extn("auth")
    code, msg = smtp.docmd("AUTH", "PLAIN AGRlbW8AcGFzcw==")
    assert code == 502
    code, _ = smtp.noop()
    assert code == 250
    smtp.quit()


def test_greeting_names_the_host(server):
    with socket.create_connection(("127.0.0.1", server.ports["mx"]), timeout=10) as s:
        greeting = s.makefile("rb").readline()
        assert greeting == b"220 localhost ESMTP Posthorn\r\n"


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_submission_starttls_then_login(server, mechanism):
    smtp = submission(server)
    assert smtp.has_extn("starttls")
    code, _ = smtp.starttls(context=server.ssl_context())
    assert code == 220
    smtp.ehlo("client.example")
    assert not smtp.has_extn("starttls")
    assert mechanism in smtp.esmtp_features["auth"].split()
    smtp.user, smtp.password = server.user, server.password
    if mechanism == "PLAIN":
        code, msg = smtp.auth("PLAIN", smtp.auth_plain)
    else:
        code, msg = smtp.auth("LOGIN", smtp.auth_login, initial_response_ok=False)
    assert code == 235, msg
    assert b"2.7.0" in msg
    code, msg = smtp.docmd("AUTH", "PLAIN")
    assert code == 503
    smtp.quit()


def test_login_with_initial_response_login(server):
    smtp = submission(server)
    smtp.starttls(context=server.ssl_context())
    smtp.ehlo("client.example")
    smtp.user, smtp.password = server.user, server.password
    code, msg = smtp.auth("LOGIN", smtp.auth_login, initial_response_ok=True)
    assert code == 235, msg
    smtp.quit()


def test_submissions_implicit_tls(server):
    smtp = smtplib.SMTP_SSL(HOST, server.ports["submissions"], context=server.ssl_context(), timeout=30)
    smtp.ehlo("client.example")
    assert not smtp.has_extn("starttls")
    assert smtp.has_extn("auth")
    code, msg = smtp.login(server.user, server.password)
    assert code == 235, msg
    smtp.quit()


def test_wrong_password_is_535(server):
    smtp = smtplib.SMTP_SSL(HOST, server.ports["submissions"], context=server.ssl_context(), timeout=30)
    smtp.ehlo("client.example")
    with pytest.raises(smtplib.SMTPAuthenticationError) as info:
        smtp.login(server.user, "not the password")
    assert info.value.smtp_code == 535
    assert b"5.7.8" in info.value.smtp_error
    smtp.quit()


def test_unauthenticated_mail_on_submission_is_530(server):
    smtp = submission(server)
    code, msg = smtp.docmd("MAIL", "FROM:<demo@example.test>")
    assert code == 530
    assert b"5.7.0" in msg
    smtp.quit()


def _scram_client_final(user, password, server_first, first_bare):
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = "c=" + base64.b64encode(b"n,,").decode() + ",r=" + attrs["r"]
    auth_message = ",".join([first_bare, server_first, without_proof]).encode()
    signature = hmac.new(stored_key, auth_message, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    server_signature = hmac.new(server_key, auth_message, "sha256").digest()
    final = without_proof + ",p=" + base64.b64encode(proof).decode()
    return final, "v=" + base64.b64encode(server_signature).decode()


@pytest.mark.parametrize("password,ok", [(None, True), ("wrong password", False)])
def test_scram_sha_256(server, password, ok):
    smtp = submission(server)
    smtp.starttls(context=server.ssl_context())
    smtp.ehlo("client.example")
    assert "SCRAM-SHA-256" in smtp.esmtp_features["auth"].split()
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = f"n={server.user},r={nonce}"
    code, msg = smtp.docmd("AUTH", "SCRAM-SHA-256 " + base64.b64encode(("n,," + first_bare).encode()).decode())
    assert code == 334, msg
    server_first = base64.b64decode(msg).decode()
    assert server_first.startswith("r=" + nonce)
    final, expected_v = _scram_client_final(server.user, password or server.password, server_first, first_bare)
    code, msg = smtp.docmd(base64.b64encode(final.encode()).decode())
    if ok:
        assert code == 334, msg
        assert base64.b64decode(msg).decode() == expected_v
        code, msg = smtp.docmd("")
        assert code == 235, msg
    else:
        assert code == 535, msg
    smtp.quit()


def test_auth_cancel_and_bad_base64(server):
    smtp = submission(server)
    code, _ = smtp.docmd("AUTH", "LOGIN")
    assert code == 334
    code, msg = smtp.docmd("*")
    assert code == 501 and b"5.7.0" in msg
    code, _ = smtp.docmd("AUTH", "PLAIN")
    assert code == 334
    code, msg = smtp.docmd("@@@not-base64@@@")
    assert code == 501 and b"5.5.2" in msg
    code, _ = smtp.docmd("AUTH", "NOSUCHMECH")
    assert code == 504
    smtp.quit()


def test_starttls_injection_is_discarded(server):
    raw = socket.create_connection(("127.0.0.1", server.ports["submission"]), timeout=10)
    f = raw.makefile("rb")
    assert f.readline().startswith(b"220 ")
    raw.sendall(b"EHLO client.example\r\n")
    while not f.readline().startswith(b"250 "):
        pass
    raw.sendall(b"STARTTLS\r\nNOOP\r\n")
    assert f.readline() == b"220 2.0.0 Ready to start TLS\r\n"
    tls = server.ssl_context().wrap_socket(raw, server_hostname=HOST)
    tf = tls.makefile("rb")
    tls.sendall(b"HELP\r\n")
    first = tf.readline()
    assert first.startswith(b"214 "), first  # never a 250 for the injected NOOP
    tls.sendall(b"QUIT\r\n")
    assert tf.readline().startswith(b"221 ")
    tls.close()
    deadline = time.time() + 10
    while "pipelined after STARTTLS" not in server.log_text() and time.time() < deadline:
        time.sleep(0.1)
    assert "discarded 6 bytes pipelined after STARTTLS" in server.log_text()


def test_lmtp_wants_lhlo(server):
    with socket.create_connection(("127.0.0.1", server.ports["lmtp"]), timeout=10) as s:
        f = s.makefile("rb")
        assert f.readline().startswith(b"220 ")
        s.sendall(b"EHLO client.example\r\n")
        assert f.readline().startswith(b"500 ")
        s.sendall(b"LHLO client.example\r\n")
        lines = [f.readline()]
        while not lines[-1].startswith(b"250 "):
            lines.append(f.readline())
        assert lines[0] == b"250-localhost\r\n"
        assert not any(b"AUTH" in line for line in lines)


def test_swaks_starttls_auth_plain(server):
    proc = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{server.ports['submission']}", "--tls",
         "--tls-ca-path", str(server.cert), "--auth", "PLAIN", "--auth-user", server.user,
         "--auth-password", server.password, "--quit-after", "AUTH", "--helo", "client.example"],
        capture_output=True, text=True, timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "235 2.7.0 Authentication successful" in out


def test_swaks_wrong_password_fails(server):
    proc = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{server.ports['submission']}", "--tls", "--tls-ca-path", str(server.cert),
         "--auth", "PLAIN", "--auth-user", server.user, "--auth-password", "wrong", "--quit-after", "AUTH",
         "--helo", "client.example"],
        capture_output=True, text=True, timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "535 5.7.8" in out


def _s_client(server, port, *extra):
    return subprocess.run(
        ["openssl", "s_client", "-brief", "-starttls", "smtp", "-connect", f"127.0.0.1:{port}",
         "-CAfile", str(server.cert), *extra],
        input="QUIT\r\n", capture_output=True, text=True, timeout=60)


def test_openssl_starttls_on_mx(server):
    proc = _s_client(server, server.ports["mx"])
    out = proc.stdout + proc.stderr
    assert "CONNECTION ESTABLISHED" in out, out
    assert "TLSv1." in out


def test_openssl_tls11_refused(server):
    proc = _s_client(server, server.ports["mx"], "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
    out = proc.stdout + proc.stderr
    assert "CONNECTION ESTABLISHED" not in out, out
    assert proc.returncode != 0


def test_ten_errors_then_421(server):
    with socket.create_connection(("127.0.0.1", server.ports["mx"]), timeout=10) as s:
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"BOGUS\r\n" * 10)
        replies = [f.readline() for _ in range(11)]
        assert all(r.startswith(b"500 5.5.2") for r in replies[:10])
        assert replies[10] == b"421 4.7.0 Too many errors\r\n"
        assert f.readline() == b""


def test_overlong_line_closes(server):
    with socket.create_connection(("127.0.0.1", server.ports["mx"]), timeout=10) as s:
        f = s.makefile("rb")
        f.readline()
        try:
            s.sendall(b"NOOP " + b"a" * 100000 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert f.readline() == b"500 5.5.6 Line too long\r\n"
