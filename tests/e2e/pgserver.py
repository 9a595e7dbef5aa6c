"""A private PostgreSQL 15 for end-to-end tests (scripts/pg-test-server: initdb + pg_ctl in a temp
folder on a free loopback port, never a system service). A test that needs it fails when it cannot
start; it never skips."""
import subprocess
import tempfile
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "pg-test-server"


class PgServer:
    def __init__(self):
        self.state = Path(tempfile.mkdtemp(prefix="posthorn-e2e-pgstate-"))
        proc = subprocess.run([str(SCRIPT), "start", str(self.state)], capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"pg-test-server start failed ({proc.returncode}):\n{proc.stderr}")
        self.url = (self.state / "url").read_text().strip()

    def psql(self, sql, url=None):
        """Runs SQL with psql (on the server's first database, or `url`) and returns its unaligned,
        tuples-only output."""
        proc = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", url or self.url, "-c", sql],
                              capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise AssertionError(f"psql failed: {proc.stderr}")
        return proc.stdout.strip()

    def restart(self):
        """Stops and starts the server on the same port and data (a database restart under traffic)."""
        data = (self.state / "datadir").read_text().strip()
        as_pg = ["runuser", "-u", "postgres", "--"] if _is_root() else []
        # The new postmaster's output goes to a log file: with pipes, it would hold them open and
        # this call would wait for their end long after pg_ctl returned.
        log = Path(data).parent / "restart.log"
        subprocess.run(as_pg + ["/usr/lib/postgresql/15/bin/pg_ctl", "-D", data, "-l", str(log), "-m", "fast", "-w",
                                "restart"], check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120)

    def stop(self):
        subprocess.run([str(SCRIPT), "stop", str(self.state)], capture_output=True, timeout=120)


def _is_root():
    import os
    return os.geteuid() == 0
