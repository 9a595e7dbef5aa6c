"""posthorn db migrate (issue 20 item 1): applies the schema migrations that serve applies on start,
then exits. On a private PostgreSQL 15 (pgserver.py: without it the test fails, never skips) an empty
database gets every component (directory, mail, queue, reports), a second run changes nothing, a
schema from a newer Posthorn is refused naming both versions, and an unreachable URL gets one line
naming it without its password. On SQLite every file of the data folder and every account's index is
created and migrated."""
import re
import socket
import uuid

from cluster import database_url, pg, use_postgresql  # noqa: F401 (pg: the module's PostgreSQL)
from conftest import PASSWORD, USER, Server

COMPONENTS = {"directory", "mail", "queue", "reports"}


def versions(pg, url):
    rows = pg.psql("SELECT component, version FROM posthorn_schema ORDER BY component", url=url)
    return {c: int(v) for c, v in (line.split("|") for line in rows.splitlines())}


def one_line(proc):
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_postgresql_empty_database_gets_every_component(tmp_path, pg):
    url = database_url(pg, "m_" + uuid.uuid4().hex[:12])
    node = Server(tmp_path / "node")
    node.init_folder()
    use_postgresql(node, url)
    first = node.cli("db", "migrate")
    assert first.returncode == 0, first.stderr
    assert "directory, mail, queue and reports" in first.stdout and "0 account(s)" in first.stdout, first.stdout
    got = versions(pg, url)
    assert set(got) == COMPONENTS, got
    assert all(v >= 1 for v in got.values()), got

    # Idempotent: the versions stay, and an account added later is opened (its mail rows readable).
    node.cli("domain", "add", "example.test")
    node.cli("user", "add", USER, "--password-stdin", input=PASSWORD + "\n")
    again = node.cli("db", "migrate")
    assert again.returncode == 0, again.stderr
    assert "1 account(s)" in again.stdout, again.stdout
    assert versions(pg, url) == got

    # The server runs on what db migrate made, without migrating anything itself.
    node.start()
    try:
        assert node.metric("posthorn_connections_active") >= 0
    finally:
        node.stop()
    assert "schema now at version" not in node.log.read_text()


def test_postgresql_newer_schema_is_refused_with_both_versions(tmp_path, pg):
    url = database_url(pg, "n_" + uuid.uuid4().hex[:12])
    # A password in the URL (trust authentication ignores it) must never be printed.
    secret_url = url.replace("postgres@", "postgres:Sekr1tPw@")
    node = Server(tmp_path / "node")
    node.init_folder()
    use_postgresql(node, secret_url)
    assert node.cli("db", "migrate").returncode == 0
    known = versions(pg, url)["mail"]
    pg.psql(f"UPDATE posthorn_schema SET version = {known + 5} WHERE component = 'mail'", url=url)
    refused = node.cli("db", "migrate", check=False)
    assert refused.returncode == 1
    line = one_line(refused)
    assert "Sekr1tPw" not in refused.stdout + refused.stderr
    assert f"version {known + 5}" in line and f"up to version {known}" in line, line
    assert versions(pg, url)["mail"] == known + 5  # nothing was changed


def test_unreachable_database_is_one_line_without_password(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    node = Server(tmp_path / "node")
    node.init_folder()
    use_postgresql(node, f"postgresql://posthorn:Sekr1tPw@127.0.0.1:{port}/mail")
    proc = node.cli("db", "migrate", check=False)
    assert proc.returncode == 1
    out = proc.stdout + proc.stderr
    assert "Sekr1tPw" not in out
    assert f"127.0.0.1:{port}" in out, out
    assert re.search(r"refused|could not connect", out, re.I), out


def test_sqlite_creates_every_file_and_account_index(tmp_path):
    node = Server(tmp_path / "node")
    node.init()
    data = node.root / "data"
    assert not list(data.glob("accounts/*/index.db"))  # no login yet: no index
    proc = node.cli("db", "migrate")
    assert proc.returncode == 0, proc.stderr
    assert "1 account(s)" in proc.stdout, proc.stdout
    for name in ("directory.db", "queue.db", "dmarc.db", "tlsrpt.db"):
        assert (data / name).exists(), name
    assert len(list(data.glob("accounts/*/index.db"))) == 1
