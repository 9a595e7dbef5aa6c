"""DMARC and TLS-RPT report counts on PostgreSQL (issue 20): with `[store] backend = "postgresql"`
the report logs live in the shared database, not in the node's data folder. Node A serves; node B
is a second node's config on the same database that only runs the admin commands. Counts that A
records (DMARC evaluations of mail received on A's MX, the TLS session of A's delivery to an
MTA-STS domain) are listed by `posthorn dmarc report` / `posthorn tlsrpt report` run with B's
config; B's `--send` marks them sent for A too; neither data folder gets dmarc.db or tlsrpt.db. The
database is a private PostgreSQL 15 (pgserver.py), the DNS a private unbound: without them these
tests fail, never skip."""
import email
import gzip
import json
import uuid
import xml.etree.ElementTree as ET

import pytest

from conftest import PASSWORD, USER, Server, wait_for
from localdns import Unbound, free_port
from cluster import database_url, pg, use_postgresql  # noqa: F401 (pg: fixture)
from test_dmarc_reports import send_mx
from test_msgauth import mailbox
from test_tls_policy import Receiver, certs, dns, policy_server, submit, tlsrpt_report  # noqa: F401 (fixtures)

REPORT_FILES = ("dmarc.db", "tlsrpt.db")


def two_nodes(tmp_path, pg, extra_config):
    """Node A (started) and node B (config only) on one new database, with the demo user."""
    url = database_url(pg, "r_" + uuid.uuid4().hex[:12])
    nodes = []
    for name in ("a", "b"):
        n = Server(tmp_path / name)
        n.init_folder()
        text = n.config.read_text()
        assert "verify = false\n" in text  # init --dev turns the checks off; DMARC reports need them
        n.config.write_text(text.replace("verify = false\n", "verify = true\n") + extra_config)
        use_postgresql(n, url)
        nodes.append(n)
    a, b = nodes
    b.cli("domain", "add", "example.test")
    b.cli("user", "add", USER, "--password-stdin", input=PASSWORD + "\n")
    a.start()
    return a, b


def stop_and_check(a, b):
    rc = a.stop()
    assert rc == 0, f"serve exited with {rc}; log:\n{a.log_text()[-4000:]}"
    for n in (a, b):
        found = [f for f in REPORT_FILES if (n.root / "data" / f).exists()]
        assert not found, f"{n.root}: {found} written although [store] is postgresql"


def test_dmarc_counts_of_one_node_are_reported_from_the_other(tmp_path, pg):
    records = ['sender.test. TXT "v=spf1 ip4:127.0.0.0/8 -all"',
               f'_dmarc.sender.test. TXT "v=DMARC1; p=none; rua=mailto:{USER}"',
               'sender.test._report._dmarc.example.test. TXT "v=DMARC1"',
               'example.test. TXT "v=spf1 -all"']
    local_dns = Unbound(records, zones=["sender.test.", "example.test."])
    try:
        a, b = two_nodes(tmp_path, pg, f'\n[dns]\nresolver = "127.0.0.1:{local_dns.port}"\ntimeout = 5\n')
        try:
            msg = b"From: News <news@sender.test>\r\nTo: demo@example.test\r\nSubject: hello\r\n\r\nHello.\r\n"
            for _ in range(3):
                send_mx(a, "bounces@sender.test", msg)
            send_mx(a, "someone@example.test", msg)  # DMARC fails through SPF: a second row

            printed = b.cli("dmarc", "report").stdout
            assert "1 pending report(s)" in printed, printed
            assert "2 rows" in printed and "<count>3</count>" in printed and "<count>1</count>" in printed, printed
            assert printed == a.cli("dmarc", "report").stdout  # the same report on both nodes

            sent = b.cli("dmarc", "report", "--send")
            assert "1 report(s) sent" in sent.stdout, sent.stdout + sent.stderr
            assert "0 pending report(s)" in a.cli("dmarc", "report").stdout

            # B's --send stored the report in the shared mail store: A's IMAP shows it.
            messages = mailbox(a, USER, PASSWORD)
            assert len(messages) == 5
            report = email.message_from_bytes(messages[-1])
            parts = [p for p in report.walk() if p.get_content_type() == "application/gzip"]
            assert len(parts) == 1
            root = ET.fromstring(gzip.decompress(parts[0].get_payload(decode=True)))
            counts = sorted(int(r.findtext("row/count")) for r in root.findall("record"))
            assert counts == [1, 3], counts
        finally:
            stop_and_check(a, b)
    finally:
        local_dns.stop()


def test_tlsrpt_counts_of_one_node_are_reported_from_the_other(tmp_path, pg, dns, certs, policy_server):
    https_port, _ = policy_server
    mx_port = free_port()
    receiver = Receiver(mx_port, certs, "good")
    delivery = (f'\n[dns]\nresolver = "127.0.0.1:{dns.port}"\ntimeout = 5\n'
                f"[delivery]\nport = {mx_port}\nipv6 = false\nconnect_timeout = 2\n"
                f"retry_min = 1\nretry_max = 1\nlifetime = 3600\nconnection_idle = 0\n"
                f'mta_sts = true\nmta_sts_port = {https_port}\ntls_ca_file = "{certs / "ca.pem"}"\n'
                f"mta_sts_timeout = 5\n")
    try:
        a, b = two_nodes(tmp_path, pg, delivery)
        try:
            submit(a)
            submit(a)
            wait_for(lambda: len(receiver.messages) == 2, what="both deliveries")
            # Counted by A's queue runner, listed with B's config.
            report = wait_for(lambda: tlsrpt_report(b).get("sts.test"), what="the TLS-RPT counts on B")
            policy = report["policies"][0]
            assert policy["policy"]["policy-type"] == "sts"
            assert policy["summary"] == {"total-successful-session-count": 2, "total-failure-session-count": 0}

            sent = b.cli("tlsrpt", "report", "--send")
            assert "1 report(s) queued" in sent.stdout, sent.stdout + sent.stderr
            # B queued it in the shared queue; A's runner delivers it to the rua= address.
            wait_for(lambda: len(receiver.messages) == 3, what="the TLS-RPT report mail")
            mailed = email.message_from_bytes(receiver.messages[2]["data"])
            assert mailed["TLS-Report-Domain"] == "sts.test"
            parts = [p for p in mailed.walk() if p.get_content_type() == "application/tlsrpt+gzip"]
            body = json.loads(gzip.decompress(parts[0].get_payload(decode=True)))
            assert body["policies"][0]["summary"]["total-successful-session-count"] == 2
            # Marked sent for every node: at most the report mail's own session is counted anew.
            left = tlsrpt_report(a).get("sts.test")
            assert left is None or left["policies"][0]["summary"]["total-successful-session-count"] <= 1, left
        finally:
            stop_and_check(a, b)
    finally:
        receiver.stop()
