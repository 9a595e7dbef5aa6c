"""Debian 12's neomutt sending through submission with its default settings (issue 28 item 6).

neomutt hands SMTP AUTH to GNU SASL (libgsasl 2.2). Offered SCRAM-SHA-256-PLUS, GNU SASL chooses it
and then asks the program for the channel binding (tls-exporter under TLS 1.3 [RFC 9266], tls-unique
under TLS 1.2); neomutt supplies none, so the library fails before anything is sent ("SASL
authentication failed") and neomutt tries no other mechanism. The server cannot repair that exchange,
so submission listeners do not offer -PLUS unless `sasl_mechanisms` asks for it; neomutt then picks
SCRAM-SHA-256 and sends (neomutt comes from scripts/install-deps). Both submission ports are tried: 465 (implicit TLS) and 587 (STARTTLS)."""
import subprocess

from conftest import PASSWORD, USER


def neomutt_send(server, home, url, subject):
    home.mkdir(exist_ok=True)
    rc = home / "muttrc"
    rc.write_text(
        f'set from="{USER}"\n'
        f'set smtp_url="{url}"\n'
        f'set smtp_user="{USER}"\n'
        f'set smtp_pass="{PASSWORD}"\n'
        f'set ssl_ca_certificates_file="{server.cert}"\n'
        f'set certificate_file="{home}/certificates"\n'
        'set ssl_force_tls=yes\n'
        'set record=""\n'
        f'set folder="{home}/Mail"\n')
    proc = subprocess.run(["neomutt", "-n", "-F", str(rc), "-s", subject, "--", USER],
                          input="sent by neomutt\n", capture_output=True, text=True, timeout=120,
                          env={"HOME": str(home), "PATH": "/usr/bin:/bin", "TERM": "dumb"})
    return proc


def inbox_subjects(server, out):
    server.cli("export", "maildir", USER, str(out))
    files = list((out / "cur").glob("*")) + list((out / "new").glob("*"))
    return sorted(line.split(b": ", 1)[1].decode() for f in files for line in f.read_bytes().split(b"\n")
                  if line.startswith(b"Subject: "))


def test_neomutt_sends_on_465_and_587_with_its_defaults(server, tmp_path):
    sub = server.ports["submission"]
    subs = server.ports["submissions"]
    for url, subject in ((f"smtps://localhost:{subs}", "via 465"), (f"smtp://localhost:{sub}", "via 587")):
        proc = neomutt_send(server, tmp_path / "home", url, subject)
        assert proc.returncode == 0, f"{url}: {proc.stdout}{proc.stderr}"
    assert inbox_subjects(server, tmp_path / "export") == ["via 465", "via 587"]
    log = server.log_text()
    assert log.count(f"auth ok user={USER} mech=SCRAM-SHA-256 ") == 2, log[-3000:]
