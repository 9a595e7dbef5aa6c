"""posthorn dkim generate|list (DESIGN.md §7) against the real binary: key files and modes in the data
folder, refusals (unknown domain, existing selector, bad selector), and TXT records that parse and hold
the public halves of the keys (checked with openssl, and for RSA by signing with Debian's python3-dkim
and verifying against the printed record)."""
import base64
import os
import re
import stat
import subprocess
from pathlib import Path

from conftest import run_cli

INTEROP = Path(__file__).resolve().parents[2] / "src" / "msgauth" / "testdata" / "dkim_interop.py"


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def txt_records(stdout):
    """{owner name: joined TXT text} from lines 'NAME. IN TXT "a" "b"'; every string <= 255 bytes."""
    records = {}
    for line in stdout.splitlines():
        m = re.fullmatch(r'(\S+)\. IN TXT ((?:"[^"]*" ?)+)', line)
        if not m:
            continue
        parts = re.findall(r'"([^"]*)"', m.group(2))
        assert all(len(p) <= 255 for p in parts), line
        records[m.group(1)] = "".join(parts)
    return records


def tags(record):
    out = {}
    for spec in record.split(";"):
        if spec.strip():
            name, value = spec.split("=", 1)
            out[name.strip()] = value.strip()
    return out


def public_der(key_file):
    return subprocess.run(["openssl", "pkey", "-in", str(key_file), "-pubout", "-outform", "DER"],
                          capture_output=True, check=True, timeout=60).stdout


def test_generate_writes_keys_and_prints_records(fresh, tmp_path):
    fresh.init()
    proc = run_cli(fresh.config, "dkim", "generate", "Example.TEST", "--selector", "s1")
    dkim_dir = fresh.root / "data" / "dkim"
    key_dir = dkim_dir / "example.test"
    rsa_key, ed_key = key_dir / "s1-rsa.pem", key_dir / "s1-ed25519.pem"
    assert rsa_key.exists() and ed_key.exists()
    assert mode(dkim_dir) == 0o700 and mode(key_dir) == 0o700
    assert mode(rsa_key) == 0o600 and mode(ed_key) == 0o600

    records = txt_records(proc.stdout)
    assert set(records) == {"s1-rsa._domainkey.example.test", "s1-ed25519._domainkey.example.test"}, proc.stdout
    rsa = tags(records["s1-rsa._domainkey.example.test"])
    ed = tags(records["s1-ed25519._domainkey.example.test"])
    assert rsa["v"] == "DKIM1" and rsa["k"] == "rsa"
    assert ed["v"] == "DKIM1" and ed["k"] == "ed25519"
    # RSA-2048: p= is the SubjectPublicKeyInfo (> 255 bytes of base64, so the record is split).
    assert base64.b64decode(rsa["p"]) == public_der(rsa_key)
    assert len(records["s1-rsa._domainkey.example.test"]) > 255
    assert "2048 bit" in subprocess.run(["openssl", "pkey", "-in", str(rsa_key), "-text", "-noout"],
                                        capture_output=True, text=True, check=True).stdout
    # Ed25519: p= is the raw 32-byte key [RFC 8463 §4], the end of the DER public key.
    raw = base64.b64decode(ed["p"])
    assert len(raw) == 32 and public_der(ed_key).endswith(raw)

    # python3-dkim signs with the generated RSA key and verifies against the printed record.
    msg = tmp_path / "m.eml"
    msg.write_bytes(b"From: a@example.test\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nhello\r\n")
    sig = subprocess.run(["/usr/bin/python3", str(INTEROP), "sign", str(msg), "s1-rsa", "example.test",
                          str(rsa_key), "relaxed", "relaxed", "rsa-sha256"],
                         capture_output=True, check=True, timeout=60).stdout
    signed = tmp_path / "signed.eml"
    signed.write_bytes(sig + msg.read_bytes())
    dns = tmp_path / "dns.txt"
    dns.write_text("s1-rsa._domainkey.example.test\t" + records["s1-rsa._domainkey.example.test"] + "\n")
    verdict = subprocess.run(["/usr/bin/python3", str(INTEROP), "verify", str(signed), str(dns)],
                             capture_output=True, text=True, timeout=60)
    assert verdict.returncode == 0 and verdict.stdout == "pass\n", verdict.stderr

    # dkim list shows both keys with their records.
    listing = run_cli(fresh.config, "dkim", "list").stdout.splitlines()
    assert len(listing) == 2
    fields = [line.split("\t") for line in listing]
    assert sorted((f[0], f[1], f[2]) for f in fields) == [("example.test", "s1-ed25519", "ed25519-sha256"),
                                                         ("example.test", "s1-rsa", "rsa-sha256")]
    assert txt_records("\n".join(f[3] for f in fields)) == records


def test_generate_default_selector(fresh):
    fresh.init()
    proc = run_cli(fresh.config, "dkim", "generate", "example.test")
    names = sorted(p.name for p in (fresh.root / "data" / "dkim" / "example.test").iterdir())
    assert len(names) == 2 and re.fullmatch(r"ph\d{6}-ed25519\.pem", names[0]) and names[1].endswith("-rsa.pem")
    assert len(txt_records(proc.stdout)) == 2


def test_generate_refusals(fresh):
    fresh.init()
    proc = run_cli(fresh.config, "dkim", "generate", "other.test", check=False)
    assert proc.returncode != 0
    assert "other.test is not a local domain" in proc.stderr and "posthorn domain add" in proc.stderr
    assert not (fresh.root / "data" / "dkim" / "other.test").exists()

    run_cli(fresh.config, "dkim", "generate", "example.test", "--selector", "s1")
    before = (fresh.root / "data" / "dkim" / "example.test" / "s1-rsa.pem").read_bytes()
    proc = run_cli(fresh.config, "dkim", "generate", "example.test", "--selector", "s1", check=False)
    assert proc.returncode != 0
    assert "selector s1-rsa already exists" in proc.stderr and "--selector" in proc.stderr
    assert (fresh.root / "data" / "dkim" / "example.test" / "s1-rsa.pem").read_bytes() == before

    for bad in ("../evil", "a.b", "-x", "x" * 51):
        proc = run_cli(fresh.config, "dkim", "generate", "example.test", "--selector", bad, check=False)
        assert proc.returncode != 0 and "not a usable selector" in proc.stderr, bad
    # 50 characters are accepted (N), 51 are not (N+1, above).
    run_cli(fresh.config, "dkim", "generate", "example.test", "--selector", "y" * 50)


def test_list_without_keys(fresh):
    fresh.init()
    proc = run_cli(fresh.config, "dkim", "list")
    assert proc.stdout == "" and "no DKIM keys" in proc.stderr
