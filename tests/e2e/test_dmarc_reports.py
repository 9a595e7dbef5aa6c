"""DMARC aggregate reports end to end (issue 9, RFC 7489 §7.2): a real Posthorn server and a private
unbound. sender.test publishes "p=none; rua=" naming a mailbox of this server (demo@example.test,
outside sender.test's organizational domain, so example.test consents with a
sender.test._report._dmarc.example.test record) and an address in a domain that does not consent.
Messages from sender.test arrive over the MX listener (two pass DMARC through SPF, one fails it);
`posthorn dmarc report` prints the counts and `posthorn dmarc report --send` delivers the report,
which is read back over IMAP, gunzipped and checked."""
import email
import gzip
import smtplib
import xml.etree.ElementTree as ET

import pytest

from conftest import PASSWORD, USER, Server
from localdns import Unbound
from test_msgauth import mailbox

HOST = "localhost"


@pytest.fixture
def reporting(tmp_path):
    s = Server(tmp_path / "s")
    s.init()
    zones = ["sender.test.", "example.test.", "elsewhere.test."]
    records = ['sender.test. TXT "v=spf1 ip4:127.0.0.0/8 -all"',
               f'_dmarc.sender.test. TXT "v=DMARC1; p=none; rua=mailto:{USER},mailto:nobody@elsewhere.test"',
               'sender.test._report._dmarc.example.test. TXT "v=DMARC1"',
               'example.test. TXT "v=spf1 -all"']
    dns = Unbound(records, zones=zones)
    text = s.config.read_text()
    assert "verify = false\n" in text  # init --dev turns the checks off; reports need them
    s.config.write_text(text.replace("verify = false\n", "verify = true\n"))
    with s.config.open("a") as f:
        f.write(f'\n[dns]\nresolver = "127.0.0.1:{dns.port}"\ntimeout = 5\n')
    s.start()
    yield s
    try:
        rc = s.stop()
        assert rc == 0, f"serve exited with {rc}; log:\n{s.log_text()[-4000:]}"
    finally:
        dns.stop()


def send_mx(server, sender, message):
    with smtplib.SMTP(HOST, server.ports["mx"], timeout=30) as smtp:
        smtp.ehlo("client.example")
        code, msg = smtp.mail(sender)
        assert code == 250, msg
        code, msg = smtp.rcpt(USER)
        assert code == 250, msg
        code, msg = smtp.data(message)
        assert code == 250, msg


def inbox(server):
    return mailbox(server, USER, PASSWORD)


def test_aggregate_report_reaches_the_rua_mailbox(reporting):
    s = reporting
    msg = (b"From: News <news@sender.test>\r\nTo: demo@example.test\r\nSubject: hello\r\n\r\nHello.\r\n")
    send_mx(s, "bounces@sender.test", msg)
    send_mx(s, "bounces@sender.test", msg)
    # SPF of an unrelated envelope domain: DMARC fails (p=none: delivered), a second row.
    send_mx(s, "someone@example.test", msg)
    assert len(inbox(s)) == 3

    printed = s.cli("dmarc", "report")
    assert "1 pending report(s)" in printed.stdout, printed.stdout
    assert "<count>2</count>" in printed.stdout and "<count>1</count>" in printed.stdout, printed.stdout

    sent = s.cli("dmarc", "report", "--send")
    assert "1 report(s) sent" in sent.stdout, sent.stdout + sent.stderr
    again = s.cli("dmarc", "report")
    assert "0 pending report(s)" in again.stdout, again.stdout

    messages = inbox(s)
    assert len(messages) == 4
    report = email.message_from_bytes(messages[-1])
    subject = " ".join(report["Subject"].split())
    assert subject.startswith("Report Domain: sender.test Submitter: localhost Report-ID: <"), subject
    assert report["From"] == "noreply-dmarc@localhost"
    assert report["To"].strip() == USER  # elsewhere.test did not consent
    assert report.get_content_type() == "multipart/mixed"
    parts = [p for p in report.walk() if p.get_content_type() == "application/gzip"]
    assert len(parts) == 1
    filename = parts[0].get_filename()
    assert filename.startswith("localhost!sender.test!") and filename.endswith(".xml.gz"), filename
    root = ET.fromstring(gzip.decompress(parts[0].get_payload(decode=True)))
    assert root.tag == "feedback"
    assert root.findtext("report_metadata/org_name") == "localhost"
    assert root.findtext("report_metadata/email") == "noreply-dmarc@localhost"
    begin = int(root.findtext("report_metadata/date_range/begin"))
    end = int(root.findtext("report_metadata/date_range/end"))
    assert end - begin == 86399 and filename == f"localhost!sender.test!{begin}!{end}.xml.gz"
    assert root.findtext("policy_published/domain") == "sender.test"
    assert root.findtext("policy_published/p") == "none"
    rows = {}
    for record in root.findall("record"):
        key = (record.findtext("row/source_ip"), record.findtext("identifiers/envelope_from"),
               record.findtext("row/policy_evaluated/spf"), record.findtext("auth_results/spf/result"))
        rows[key] = int(record.findtext("row/count"))
        assert record.findtext("identifiers/header_from") == "sender.test"
        assert record.findtext("row/policy_evaluated/disposition") == "none"
        assert record.findtext("auth_results/spf/scope") == "mfrom"
    assert rows == {("127.0.0.1", "sender.test", "pass", "pass"): 2,
                    ("127.0.0.1", "example.test", "fail", "fail"): 1}, rows
    assert "Return-Path: <noreply-dmarc@localhost>" in messages[-1].decode()
