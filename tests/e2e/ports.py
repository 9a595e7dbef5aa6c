"""Ports for end-to-end tests: every port a test hands to a server (Posthorn, unbound, a fake MX) is
chosen here, so that two servers of one run never get the same port, and below the kernel's
ephemeral range, so that no outgoing connection can take it between the check and the server's bind
(CI once saw unbound fail on 58820: free for UDP, but an outgoing TCP connection held it)."""
import random
import socket
from pathlib import Path

# Ports handed out by this process. A port that is free now may belong to a server that has not
# started yet (test_msgauth starts two), so a port is never handed out twice.
_CLAIMED = set()


def _ephemeral_low():
    """The lowest port the kernel hands out to outgoing connections."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _free(port, hosts):
    """True if `port` can be bound for TCP and UDP on every host in `hosts` (unbound listens on
    both; a TCP server's port taken by UDP would be harmless, but checking both costs nothing)."""
    for host in hosts:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            try:
                s.bind((host, port))
            except OSError:
                return False
            finally:
                s.close()
    return True


def claim_base(offsets, hosts=("127.0.0.1",)):
    """A base N such that every N+offset port is free now on every host and never handed out before
    by this process; the ports are then claimed."""
    high = min(_ephemeral_low(), 60000) - max(offsets) - 1
    for _ in range(1000):
        base = random.randrange(10000, high)
        ports = {base + off for off in offsets}
        if ports.isdisjoint(_CLAIMED) and all(_free(port, hosts) for port in ports):
            _CLAIMED.update(ports)
            return base
    raise RuntimeError("no free port range")


def claim_port(hosts=("127.0.0.1",)):
    """One port free for TCP and UDP on every host in `hosts`, claimed for this process."""
    return claim_base([0], hosts)
