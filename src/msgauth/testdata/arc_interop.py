#!/usr/bin/python3
"""ARC interop helper for posthorn_msgauth_test: seals or verifies with Debian's python3-dkim
(dkim.arc_sign / dkim.arc_verify, which need python3-authres).

  arc_interop.py seal MESSAGE SELECTOR DOMAIN KEYFILE SRV_ID CV
      prints MESSAGE with a new ARC set on top (and the Authentication-Results field the set is
      made from, "SRV_ID; spf=pass smtp.mailfrom=... [; arc=CV]", below it). CV: none, pass or fail
      (python3-dkim takes the chain status from the arc= result of that field). KEYFILE: RSA PEM.
  arc_interop.py verify MESSAGE DNSFILE
      prints the chain status (pass, fail or none) and the reason; exits 0 on pass. DNSFILE has one
      "NAME<TAB>TXT" line per record; lookups of other names find nothing.
Runs with /usr/bin/python3 (the Debian module, not a virtualenv's)."""
import sys

import dkim

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from interop_dns import load_dns  # noqa: E402


def seal(args):
    message = open(args[0], 'rb').read()
    selector, domain = args[1].encode(), args[2].encode()
    key = open(args[3], 'rb').read()
    srv_id, cv = args[4].encode(), args[5].encode()
    results = b'spf=pass smtp.mailfrom=alice@example.org'
    if cv != b'none':
        results += b'; arc=' + cv
    ar = b'Authentication-Results: ' + srv_id + b'; ' + results + b'\r\n'
    signed = ar + message
    arc_set = dkim.arc_sign(signed, selector, domain, key, srv_id, timestamp=None)
    if not arc_set:
        print('python3-dkim made no ARC set', file=sys.stderr)
        return 1
    sys.stdout.buffer.write(b''.join(arc_set) + signed)
    return 0


def verify(args):
    message = open(args[0], 'rb').read()
    dnsfunc = load_dns(args[1])

    cv, _, reason = dkim.arc_verify(message, dnsfunc=dnsfunc)
    status = cv.decode() if cv else 'fail'
    print(status)
    print(reason, file=sys.stderr)
    return 0 if status == 'pass' else 1


if __name__ == '__main__':
    if len(sys.argv) < 2 or sys.argv[1] not in ('seal', 'verify'):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(seal(sys.argv[2:]) if sys.argv[1] == 'seal' else verify(sys.argv[2:]))
