"""TLS audit (issue 8): Debian's testssl.sh against every TLS listener of a running server, implicit
TLS and STARTTLS alike. Each listener must offer TLS 1.2 and 1.3 only and no weak cipher category; one
listener also gets testssl's whole vulnerability battery (Heartbleed, CCS, ROBOT, renegotiation, CRIME,
POODLE, fallback SCSV, SWEET32, FREAK, DROWN, LOGJAM, BEAST, LUCKY13, RC4). Every listener is served by
the same TlsContext, so the battery on one stands for the others; `make tls-audit` runs it on all of
them. Certificate findings are left out: the test certificate is the self-signed one `init --dev` made.
docs/security.md summarises the result."""
import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

TESTSSL = shutil.which("testssl") or shutil.which("testssl.sh")

# listener name -> testssl's STARTTLS protocol (None: implicit TLS)
LISTENERS = {"imaps": None, "submissions": None, "pop3s": None,
             "mx": "smtp", "submission": "smtp", "imap": "imap", "pop3": "pop3"}
NOT_OFFERED = ["SSLv2", "SSLv3", "TLS1", "TLS1_1", "cipherlist_NULL", "cipherlist_aNULL",
               "cipherlist_EXPORT", "cipherlist_LOW", "cipherlist_3DES_IDEA", "cipherlist_AVERAGE"]
VULNERABILITIES = ["heartbleed", "CCS", "ROBOT", "secure_renego", "secure_client_renego", "CRIME_TLS",
                   "POODLE_SSL", "fallback_SCSV", "SWEET32", "FREAK", "DROWN", "LOGJAM", "BEAST", "LUCKY13"]


def run_testssl(port, starttls, checks, out):
    cmd = [TESTSSL, "--quiet", "--color", "0", "--warnings", "batch", "--fast", "--nodns", "none",
           *checks, "--jsonfile", str(out), "--ip", "127.0.0.1"]
    if starttls:
        cmd += ["-t", starttls]
    cmd.append(f"127.0.0.1:{port}")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    assert out.exists(), f"testssl wrote no result ({proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}"
    return {f["id"]: f for f in json.loads(out.read_text())}, proc.stdout


def problems(findings, battery):
    bad = []
    for name in NOT_OFFERED:
        f = findings.get(name)
        if f is None or not f["finding"].startswith("not offered"):
            bad.append(f"{name}: {f['finding'] if f else 'not tested'}")
    for name in ("TLS1_2", "TLS1_3"):
        f = findings.get(name)
        if f is None or not f["finding"].startswith("offered"):
            bad.append(f"{name}: {f['finding'] if f else 'not tested'}")
    if battery:
        for name in VULNERABILITIES:
            f = findings.get(name)
            if f is None or f["severity"] not in ("OK", "INFO"):
                bad.append(f"{name}: {f['severity'] + ' ' + f['finding'] if f else 'not tested'}")
    for f in findings.values():
        if f["id"].startswith("cert") or f["id"] in ("DROWN_hint",):
            continue  # the self-signed test certificate
        if f["id"] == "RC4" and "local OpenSSL" in f["finding"]:
            continue  # Debian's openssl cannot even offer RC4: a limit of the scanner, not of the server
        if f["id"] == "engine_problem":
            continue  # the scanner's own openssl has no GOST engine: about the client, not the server
        if f["severity"] not in ("OK", "INFO", "DEBUG"):  # DEBUG: notes on the scan itself
            bad.append(f"{f['id']}: {f['severity']} {f['finding']}")
    return bad


# make tls-audit sets this: the vulnerability battery on every listener, not only on imaps.
FULL = os.environ.get("POSTHORN_TLS_AUDIT") == "full"


def test_testssl_finds_nothing_on_any_tls_listener(server, tmp_path):
    assert TESTSSL, "testssl.sh is missing (scripts/install-deps installs Debian's testssl.sh)"

    def audit(name):
        battery = FULL or name == "imaps"
        checks = ["-p", "-s"] + (["-U"] if battery else [])
        findings, text = run_testssl(server.ports[name], LISTENERS[name], checks, tmp_path / f"{name}.json")
        return name, problems(findings, battery), text

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(audit, LISTENERS))
    failures = {name: bad for name, bad, _ in results if bad}
    assert not failures, "\n".join(f"{name}: {bad}" for name, bad in failures.items())
    assert len(results) == len(LISTENERS)
