"""A private DNS server for end-to-end tests: Debian's unbound in the foreground on 127.0.0.1 and a
free port, answering only local-data (a static root zone, so nothing leaves the machine), and a
helper that finds free ports."""
import socket
import subprocess
import tempfile
from pathlib import Path

from ports import claim_port

UNBOUND = "/usr/sbin/unbound"


def free_port(hosts=("127.0.0.1",)):
    """A port free for TCP and UDP on every host in `hosts`, below the ephemeral range, never handed
    to another server of this run (tests/e2e/ports.py)."""
    return claim_port(hosts)


class Unbound:
    """unbound in the foreground with local-data only (a static root zone: nothing leaves the machine)."""

    def __init__(self, records, zones=None):
        """records: unbound local-data lines; zones: the static zones that hold them (by default the
        owner names, with "mx.X" in X's zone)."""
        self.dir = Path(tempfile.mkdtemp(prefix="posthorn-e2e-dns-"))
        self.port = free_port()
        if zones is None:
            zones = sorted({r.split()[0].split(".", 1)[1] if r.split()[0].startswith("mx.") else r.split()[0]
                            for r in records})
        conf = ["server:", "  interface: 127.0.0.1", f"  port: {self.port}", "  do-daemonize: no",
                '  username: ""', '  chroot: ""', f'  directory: "{self.dir}"', '  pidfile: ""',
                "  use-syslog: no", "  verbosity: 0", '  module-config: "iterator"', "  do-ip6: no",
                "  num-threads: 1", "  cache-max-ttl: 0", "  cache-max-negative-ttl: 0",
                '  local-zone: "." static',
                '  local-zone: "ready.test." static', '  local-data: "ready.test. A 127.0.0.1"']
        conf += [f'  local-zone: "{z}" static' for z in zones]
        # TXT strings carry double quotes: such a line goes in single quotes (unbound.conf(5)).
        conf += [f"  local-data: '{r}'" if '"' in r else f'  local-data: "{r}"' for r in records]
        conf += ["remote-control:", "  control-enable: no"]
        (self.dir / "unbound.conf").write_text("\n".join(conf) + "\n")
        self.log = open(self.dir / "unbound.log", "wb")
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", str(self.dir / "unbound.conf")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self):
        query = bytes([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5]) + b"ready" + bytes([4]) + b"test" + \
            bytes([0, 0, 1, 0, 1])
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.1)
        try:
            for _ in range(100):
                assert self.proc.poll() is None, (self.dir / "unbound.log").read_text()
                s.sendto(query, ("127.0.0.1", self.port))
                try:
                    s.recv(512)
                    return
                except socket.timeout:
                    pass
        finally:
            s.close()
        raise RuntimeError("unbound did not answer")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()
