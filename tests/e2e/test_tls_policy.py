"""Outbound TLS policy end to end (MTA-STS, RFC 8461): the real binary delivers to sts.test, whose
policy (mode enforce, mx mx.sts.test) is announced by a TXT record in a private unbound and served
over HTTPS by a python server (src/smtpc/testdata/sts_server.py) with a certificate from a test CA
(src/smtpc/testdata/make_certs.py). The MX is an aiosmtpd receiver with STARTTLS (not required, so a
plaintext delivery would be accepted and seen).

(a) with a certificate for mx.sts.test signed by the test CA, the message arrives over verified TLS;
(b) with a certificate for another name, the message stays queued with the 4.7.5 reason shown by
`posthorn queue list`, and nothing reaches the receiver, neither over TLS nor in the clear;
(c) TLS-RPT (RFC 8460): `posthorn tlsrpt report` shows the sessions counted (a success in (a), a
certificate-host-mismatch in (b)), and `--send` mails the report, gzipped JSON in a
multipart/report, to the rua= address of _smtp._tls.sts.test (the same receiver)."""
import email
import gzip
import json
import smtplib
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from conftest import PASSWORD, USER, Server, wait_for
from localdns import Unbound, free_port

HOST = "localhost"
TESTDATA = Path(__file__).resolve().parents[2] / "src" / "smtpc" / "testdata"
RECORDS = ["sts.test. MX 10 mx.sts.test.", "mx.sts.test. A 127.0.0.1", "mta-sts.sts.test. A 127.0.0.1",
           '_mta-sts.sts.test. TXT "v=STSv1; id=20261127"',
           '_smtp._tls.sts.test. TXT "v=TLSRPTv1; rua=mailto:tlsrpt@sts.test"']
POLICY = b"version: STSv1\r\nmode: enforce\r\nmx: mx.sts.test\r\nmax_age: 86400\r\n"
MESSAGE = (b"From: Demo <demo@example.test>\r\nTo: friend@sts.test\r\nSubject: tls policy\r\n"
           b"Message-ID: <tls-policy-1@example.test>\r\n\r\nOnly over verified TLS.\r\n")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    subprocess.run([sys.executable, str(TESTDATA / "make_certs.py"), str(d), "--name", "mx.sts.test",
                    "--name", "mta-sts.sts.test"], check=True)
    return d


@pytest.fixture(scope="module")
def dns():
    d = Unbound(RECORDS, zones=["sts.test."])
    yield d
    d.stop()


@pytest.fixture
def policy_server(tmp_path, certs):
    policy = tmp_path / "policy.txt"
    policy.write_bytes(POLICY)
    log = tmp_path / "https.jsonl"
    proc = subprocess.Popen([sys.executable, str(TESTDATA / "sts_server.py"), "--cert", str(certs / "good.pem"),
                             "--key", str(certs / "good.key"), "--policy", str(policy), "--log", str(log)],
                            stdout=subprocess.PIPE)
    port = int(proc.stdout.readline())
    yield port, log
    proc.terminate()
    proc.wait()


class Receiver:
    """aiosmtpd on 127.0.0.1:port offering STARTTLS with certificate `name` (good or wrong)."""

    def __init__(self, port, certs, name):
        self.messages = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                receiver.messages.append({"to": list(envelope.rcpt_tos), "tls": session.ssl is not None,
                                          "data": envelope.original_content})
                return "250 2.0.0 accepted"

        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(certs / f"{name}.pem"), str(certs / f"{name}.key"))
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=ctx,
                                     require_starttls=False, decode_data=False)
        self.controller.start()

    def stop(self):
        self.controller.stop()


def start_server(root, dns, mx_port, https_port, certs):
    s = Server(root)
    s.init()
    with s.config.open("a") as f:
        f.write(f'\n[dns]\nresolver = "127.0.0.1:{dns.port}"\ntimeout = 5\n'
                f"[delivery]\nport = {mx_port}\nipv6 = false\nconnect_timeout = 2\n"
                f"retry_min = 1\nretry_max = 1\nlifetime = 3600\nconnection_idle = 0\n"
                f'mta_sts = true\nmta_sts_port = {https_port}\ntls_ca_file = "{certs / "ca.pem"}"\n'
                f"mta_sts_timeout = 5\n")
    s.start()
    return s


def submit(srv):
    with smtplib.SMTP(HOST, srv.ports["submission"], timeout=30) as smtp:
        smtp.ehlo("client.example")
        smtp.login(USER, PASSWORD)
        assert smtp.sendmail(USER, ["friend@sts.test"], MESSAGE) == {}


def tlsrpt_report(srv):
    """The JSON reports `posthorn tlsrpt report` prints, by policy domain."""
    out = srv.cli("tlsrpt", "report").stdout
    reports, current = {}, []
    for line in out.splitlines():
        if line.startswith("# report for") or line.endswith("pending report(s)"):
            if current:
                r = json.loads("\n".join(current))
                reports[r["policies"][0]["policy"]["policy-domain"]] = r
            current = []
        else:
            current.append(line)
    return reports


def queue_entries(srv):
    return json.loads(srv.cli("queue", "list", "--json").stdout)


def run(tmp_path, dns, certs, policy_server, cert_name, check):
    https_port, https_log = policy_server
    mx_port = free_port()
    receiver = Receiver(mx_port, certs, cert_name)
    srv = start_server(tmp_path / "srv", dns, mx_port, https_port, certs)
    try:
        submit(srv)
        check(srv, receiver)
        assert https_log.read_text().count("/.well-known/mta-sts.txt") >= 1  # the policy was fetched
        assert (srv.root / "data" / "mta-sts" / "sts.test.policy").exists() or any(
            srv.root.rglob("sts.test.policy"))
    finally:
        receiver.stop()
        rc = srv.stop()
        assert rc == 0, f"serve exited with {rc}; log:\n{srv.log_text()[-4000:]}"


def test_enforce_delivers_over_verified_tls(tmp_path, dns, certs, policy_server):
    def check(srv, receiver):
        wait_for(lambda: receiver.messages, what="delivery")
        wait_for(lambda: not queue_entries(srv), what="the entry to be removed")
        assert len(receiver.messages) == 1
        assert receiver.messages[0]["tls"] is True
        assert receiver.messages[0]["data"].endswith(b"\r\n\r\nOnly over verified TLS.\r\n")
        assert b"Message-ID: <tls-policy-1@example.test>" in receiver.messages[0]["data"]
        # TLS-RPT: one successful session under the sts policy.
        report = wait_for(lambda: tlsrpt_report(srv).get("sts.test"), what="the TLS-RPT counts")
        policy = report["policies"][0]
        assert policy["policy"]["policy-type"] == "sts"
        assert policy["policy"]["mx-host"] == ["mx.sts.test"]
        assert "mode: enforce" in policy["policy"]["policy-string"]
        assert policy["summary"] == {"total-successful-session-count": 1, "total-failure-session-count": 0}
        # --send: the report goes to tlsrpt@sts.test, i.e. the same receiver, over verified TLS.
        srv.cli("tlsrpt", "report", "--send")
        wait_for(lambda: len(receiver.messages) == 2, what="the TLS-RPT report mail")
        sent = receiver.messages[1]
        assert sent["to"] == ["tlsrpt@sts.test"] and sent["tls"] is True
        msg = email.message_from_bytes(sent["data"])
        assert msg.get_content_type() == "multipart/report"
        assert msg.get_param("report-type") == "tlsrpt"
        assert msg["TLS-Report-Domain"] == "sts.test"
        parts = [p for p in msg.walk() if p.get_content_type() == "application/tlsrpt+gzip"]
        assert len(parts) == 1
        mailed = json.loads(gzip.decompress(parts[0].get_payload(decode=True)))
        assert mailed["policies"][0]["summary"]["total-successful-session-count"] == 1
        assert mailed["policies"][0]["policy"]["policy-domain"] == "sts.test"
        assert tlsrpt_report(srv).get("sts.test", {"policies": [{"summary": {}}]})["policies"][0]["summary"].get(
            "total-successful-session-count", 0) <= 1  # the sent counts are gone; the report mail's own session may be new

    run(tmp_path, dns, certs, policy_server, "good", check)


def test_enforce_with_a_wrong_name_certificate_keeps_the_message_queued(tmp_path, dns, certs, policy_server):
    def check(srv, receiver):
        entry = wait_for(lambda: [e for e in queue_entries(srv) if e["recipients"][0]["attempts"] >= 2],
                         what="two failed attempts")[0]
        rcpt = entry["recipients"][0]
        assert rcpt["state"] == "pending"
        assert "4.7.5" in rcpt["last_error"] and "MTA-STS" in rcpt["last_error"], rcpt
        listing = srv.cli("queue", "list").stdout
        assert "4.7.5" in listing, listing
        time.sleep(1)
        assert receiver.messages == []  # never delivered, not even in the clear
        report = tlsrpt_report(srv)["sts.test"]
        details = report["policies"][0]["failure-details"]
        assert {d["result-type"] for d in details} == {"certificate-host-mismatch"}
        assert details[0]["receiving-mx-hostname"] == "mx.sts.test"
        assert report["policies"][0]["summary"]["total-successful-session-count"] == 0

    run(tmp_path, dns, certs, policy_server, "wrong", check)
