"""The command line (DESIGN.md §7) against the real binary: init, check-config, domain, user, alias,
version. No server is started; every command works on the files init wrote."""
import json
import os
import re
import stat
import subprocess

import pytest

from conftest import BIN, PASSWORD, USER, run_cli


def posthorn(*args, input=None, cwd=None):
    return subprocess.run([BIN, *args], input=input, capture_output=True, text=True, timeout=60, cwd=cwd)


def init_dir(server, *extra):
    return posthorn("init", "--dir", str(server.root), "--dev", "--port-base", str(server.base),
                    "--hostname", "localhost", *extra)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# ---- init ----

def test_init_creates_files_with_modes_and_prints_ports(fresh):
    proc = init_dir(fresh)
    assert proc.returncode == 0, proc.stderr
    root = fresh.root
    assert (root / "posthorn.toml").is_file()
    assert (root / "data" / "directory.db").is_file()
    assert (root / "tls" / "cert.pem").is_file()
    assert mode(root / "tls" / "key.pem") == 0o600
    assert mode(root / "data") == 0o700
    assert mode(root / "tls") == 0o700
    assert mode(root) == 0o755
    assert mode(root / "posthorn.toml") == 0o640
    for name, port in fresh.ports.items():
        assert f"127.0.0.1:{port}" in proc.stdout, (name, proc.stdout)
    assert f"--config {root / 'posthorn.toml'} domain add" in proc.stdout
    assert "serve" in proc.stdout
    # The certificate is for the given host name.
    text = subprocess.run(["openssl", "x509", "-in", str(root / "tls" / "cert.pem"), "-noout", "-text"],
                          capture_output=True, text=True).stdout
    assert "DNS:localhost" in text


def test_init_twice_fails_clearly(fresh):
    assert init_dir(fresh).returncode == 0
    before = (fresh.root / "posthorn.toml").read_text()
    proc = init_dir(fresh)
    assert proc.returncode != 0
    assert f"{fresh.root}/posthorn.toml already exists" in proc.stderr
    assert "--dir" in proc.stderr
    assert (fresh.root / "posthorn.toml").read_text() == before


def test_init_rejects_bad_hostname(fresh):
    proc = posthorn("init", "--dir", str(fresh.root), "--dev", "--hostname", "bad_name!")
    assert proc.returncode != 0
    assert "not a valid host name" in proc.stderr
    assert not (fresh.root / "posthorn.toml").exists()


def test_init_rejects_port_base_that_overflows(fresh):
    proc = posthorn("init", "--dir", str(fresh.root), "--dev", "--port-base", "65000", "--hostname", "localhost")
    assert proc.returncode != 0
    assert not (fresh.root / "posthorn.toml").exists()


def test_init_without_dev_uses_standard_ports(fresh):
    proc = posthorn("init", "--dir", str(fresh.root), "--hostname", "mail.example.test")
    assert proc.returncode == 0, proc.stderr
    assert "0.0.0.0:25 " in proc.stdout
    assert "0.0.0.0:993 " in proc.stdout
    assert 'hostname = "mail.example.test"' in (fresh.root / "posthorn.toml").read_text()


# ---- check-config ----

def test_check_config_accepts_init_output(fresh):
    assert init_dir(fresh).returncode == 0
    proc = fresh.cli("check-config", check=False)
    assert proc.returncode == 0, proc.stderr


def test_check_config_names_the_line_of_a_typo(fresh):
    assert init_dir(fresh).returncode == 0
    lines = fresh.config.read_text().splitlines()
    idx = next(i for i, l in enumerate(lines) if l.startswith("log_level"))
    lines.insert(idx + 1, "log_levle = \"debug\"")
    fresh.config.write_text("\n".join(lines) + "\n")
    proc = fresh.cli("check-config", check=False)
    assert proc.returncode != 0
    assert f"posthorn.toml:{idx + 2}" in proc.stderr, proc.stderr
    # Admin commands refuse the broken file too, with the same line and a hint.
    proc = fresh.cli("domain", "list", check=False)
    assert proc.returncode != 0
    assert f"posthorn.toml:{idx + 2}" in proc.stderr
    assert "posthorn init" in proc.stderr


def test_missing_config_gives_a_hint(tmp_path):
    proc = posthorn("--config", str(tmp_path / "nope.toml"), "user", "list")
    assert proc.returncode != 0
    assert "nope.toml" in proc.stderr
    assert "posthorn init --dir DIR" in proc.stderr


# ---- domain ----

def test_domain_add_list_del(fresh):
    assert init_dir(fresh).returncode == 0
    proc = fresh.cli("domain", "add", "Example.TEST")
    assert "example.test" in proc.stdout
    fresh.cli("domain", "add", "other.test")
    assert fresh.cli("domain", "list").stdout.split() == ["example.test", "other.test"]
    data = json.loads(fresh.cli("domain", "list", "--json").stdout)
    assert data == [{"name": "example.test"}, {"name": "other.test"}]

    proc = fresh.cli("domain", "add", "example.test", check=False)
    assert proc.returncode != 0
    assert "domain example.test already exists" in proc.stderr

    fresh.cli("domain", "del", "other.test")
    assert json.loads(fresh.cli("domain", "list", "--json").stdout) == [{"name": "example.test"}]

    proc = fresh.cli("domain", "del", "unknown.test", check=False)
    assert proc.returncode != 0
    assert "posthorn domain del: domain unknown.test is not a local domain" in proc.stderr


def test_domain_add_rejects_junk(fresh):
    assert init_dir(fresh).returncode == 0
    proc = fresh.cli("domain", "add", "not a domain", check=False)
    assert proc.returncode != 0
    assert "is not a domain name" in proc.stderr
    assert json.loads(fresh.cli("domain", "list", "--json").stdout) == []


def test_domain_del_refuses_while_in_use(fresh):
    fresh.init()
    proc = fresh.cli("domain", "del", "example.test", check=False)
    assert proc.returncode != 0
    assert "still has users or aliases" in proc.stderr


# ---- user ----

def test_user_add_with_password_stdin_and_duplicate(fresh):
    fresh.init()  # adds USER with --password-stdin
    users = json.loads(fresh.cli("user", "list", "--json").stdout)
    assert [u["address"] for u in users] == [USER]
    assert users[0]["quota_bytes"] == 0
    assert isinstance(users[0]["created_at"], int) and users[0]["created_at"] > 1_600_000_000

    proc = fresh.cli("user", "add", USER, "--password-stdin", input=PASSWORD + "\n", check=False)
    assert proc.returncode != 0
    assert f"posthorn user add: user {USER} already exists" in proc.stderr


def test_user_add_generates_a_password(fresh):
    fresh.init()
    proc = fresh.cli("user", "add", "gen@example.test")
    m = re.search(r"^password: (\S+)$", proc.stdout, re.M)
    assert m, proc.stdout
    assert len(m.group(1)) == 20
    # Each generated password is different.
    proc2 = fresh.cli("user", "add", "gen2@example.test")
    assert re.search(r"^password: (\S+)$", proc2.stdout, re.M).group(1) != m.group(1)


def test_user_add_password_stdin_errors(fresh):
    fresh.init()
    proc = fresh.cli("user", "add", "empty@example.test", "--password-stdin", input="\r\n", check=False)
    assert proc.returncode != 0
    assert "empty" in proc.stderr
    proc = fresh.cli("user", "add", "none@example.test", "--password-stdin", input="", check=False)
    assert proc.returncode != 0
    assert "stdin" in proc.stderr
    users = [u["address"] for u in json.loads(fresh.cli("user", "list", "--json").stdout)]
    assert users == [USER]


def test_user_add_unknown_domain_and_bad_address(fresh):
    fresh.init()
    proc = fresh.cli("user", "add", "x@nowhere.test", "--password-stdin", input="pw\n", check=False)
    assert proc.returncode != 0
    assert "domain nowhere.test is not a local domain; add it with posthorn domain add nowhere.test" in proc.stderr
    proc = fresh.cli("user", "add", "no-at-sign", "--password-stdin", input="pw\n", check=False)
    assert proc.returncode != 0
    assert "not a mail address" in proc.stderr


def test_user_quota(fresh):
    fresh.init()
    fresh.cli("user", "add", "q@example.test", "--password-stdin", "--quota", "50M", input="pw one\n")
    fresh.cli("user", "add", "k@example.test", "--password-stdin", "--quota", "2k", input="pw two\n")
    fresh.cli("user", "add", "b@example.test", "--password-stdin", "--quota", "1000", input="pw three\n")
    quotas = {u["address"]: u["quota_bytes"] for u in json.loads(fresh.cli("user", "list", "--json").stdout)}
    assert quotas["q@example.test"] == 52428800
    assert quotas["k@example.test"] == 2048
    assert quotas["b@example.test"] == 1000
    table = fresh.cli("user", "list").stdout
    assert re.search(r"^ADDRESS\s+QUOTA\s+CREATED$", table, re.M)
    assert re.search(r"^q@example\.test\s+50M\s+\d{4}-\d\d-\d\dT", table, re.M)
    assert re.search(rf"^{re.escape(USER)}\s+unlimited\s", table, re.M)

    for junk in ("50X", "M", "-1", "1.5G", "", "99999999999G"):
        proc = fresh.cli("user", "add", "bad@example.test", "--password-stdin", "--quota", junk,
                         input="pw\n", check=False)
        assert proc.returncode != 0, junk
        assert "--quota" in proc.stderr, (junk, proc.stderr)
    assert "bad@example.test" not in fresh.cli("user", "list").stdout


def test_user_passwd_and_del(fresh):
    fresh.init()
    proc = fresh.cli("user", "passwd", USER, "--password-stdin", input="a new password\n")
    assert USER in proc.stdout
    proc = fresh.cli("user", "passwd", USER, "--password-stdin", "--quota", "1G", input="another one\n")
    users = json.loads(fresh.cli("user", "list", "--json").stdout)
    assert users == [{"address": USER, "quota_bytes": 1 << 30, "created_at": users[0]["created_at"]}]
    proc = fresh.cli("user", "passwd", USER)
    assert re.search(r"^password: \S{20}$", proc.stdout, re.M)

    proc = fresh.cli("user", "passwd", "ghost@example.test", "--password-stdin", input="x\n", check=False)
    assert proc.returncode != 0
    assert "no user ghost@example.test" in proc.stderr

    fresh.cli("user", "del", USER)
    assert json.loads(fresh.cli("user", "list", "--json").stdout) == []
    proc = fresh.cli("user", "del", USER, check=False)
    assert proc.returncode != 0
    assert f"no user {USER}" in proc.stderr


# ---- alias ----

def test_alias_add_list_del(fresh):
    fresh.init()
    proc = fresh.cli("alias", "add", "@example.test", f"{USER},someone@remote.test")
    assert "@example.test" in proc.stdout
    fresh.cli("alias", "add", "postmaster@example.test", USER)
    data = json.loads(fresh.cli("alias", "list", "--json").stdout)
    assert {"address": "@example.test", "targets": [USER, "someone@remote.test"]} in data
    assert {"address": "postmaster@example.test", "targets": [USER]} in data
    human = fresh.cli("alias", "list").stdout
    assert re.search(r"^@example\.test\s+-> demo@example\.test, someone@remote\.test$", human, re.M)

    proc = fresh.cli("alias", "add", "postmaster@example.test", USER, check=False)
    assert proc.returncode != 0
    assert "alias postmaster@example.test already exists" in proc.stderr
    proc = fresh.cli("alias", "add", USER, "someone@remote.test", check=False)
    assert proc.returncode != 0
    assert "is a user" in proc.stderr
    proc = fresh.cli("alias", "add", "x@nowhere.test", USER, check=False)
    assert proc.returncode != 0
    assert "domain nowhere.test is not a local domain" in proc.stderr
    proc = fresh.cli("alias", "add", "y@example.test", "not-an-address", check=False)
    assert proc.returncode != 0
    assert "not a mail address" in proc.stderr

    fresh.cli("alias", "del", "@example.test")
    data = json.loads(fresh.cli("alias", "list", "--json").stdout)
    assert [a["address"] for a in data] == ["postmaster@example.test"]
    proc = fresh.cli("alias", "del", "@example.test", check=False)
    assert proc.returncode != 0
    assert "no alias @example.test" in proc.stderr


def test_alias_to_missing_local_target_warns(fresh):
    fresh.init()
    proc = fresh.cli("alias", "add", "team@example.test", "nobody@example.test")
    assert "warning: nobody@example.test" in proc.stderr


# ---- misc ----

def test_version():
    proc = posthorn("version")
    assert proc.returncode == 0
    assert re.fullmatch(r"posthorn \d+\.\d+\.\d+\n", proc.stdout)


def test_unknown_subcommand_fails():
    proc = posthorn("frobnicate")
    assert proc.returncode != 0
    proc = posthorn("user", "frobnicate")
    assert proc.returncode != 0


def test_config_after_subcommand(fresh):
    fresh.init()
    proc = posthorn("domain", "list", "--config", str(fresh.config))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["example.test"]


def test_config_found_in_current_directory(fresh):
    fresh.init()
    proc = posthorn("user", "list", "--json", cwd=str(fresh.root))
    assert proc.returncode == 0, proc.stderr
    assert [u["address"] for u in json.loads(proc.stdout)] == [USER]


def test_json_escapes_odd_characters(fresh):
    fresh.init()
    odd = 'we"ird\\name@example.test'
    fresh.cli("user", "add", odd, "--password-stdin", input="pw\n")
    users = json.loads(fresh.cli("user", "list", "--json").stdout)
    assert odd in [u["address"] for u in users]
