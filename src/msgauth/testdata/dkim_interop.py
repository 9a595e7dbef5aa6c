#!/usr/bin/python3
"""DKIM interop helper for posthorn_msgauth_test: signs or verifies with Debian's python3-dkim.

  dkim_interop.py sign MESSAGE SELECTOR DOMAIN KEYFILE HEADER_CANON BODY_CANON ALGORITHM [--length]
      prints the DKIM-Signature field (CRLF line ends) for MESSAGE. KEYFILE: an RSA PEM, or for
      ed25519-sha256 the base64 of the 32-byte private seed (what python3-dkim expects).
  dkim_interop.py verify MESSAGE DNSFILE
      verifies every DKIM-Signature of MESSAGE; prints one line per signature, "pass" or "fail";
      exits 0 when all pass. DNSFILE has one "NAME<TAB>TXT" line per record; lookups of other names
      find nothing.
Runs with /usr/bin/python3 (the Debian module, not a virtualenv's)."""
import sys

import dkim

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from interop_dns import load_dns  # noqa: E402


def sign(args):
    message = open(args[0], 'rb').read()
    selector, domain = args[1].encode(), args[2].encode()
    key = open(args[3], 'rb').read()
    canon = (args[4].encode(), args[5].encode())
    algorithm = args[6].encode()
    length = '--length' in args[7:]
    sig = dkim.sign(message, selector, domain, key, canonicalize=canon,
                    signature_algorithm=algorithm, length=length,
                    # From twice: oversigned, so a From added later breaks the signature.
                    include_headers=[b'from', b'from', b'to', b'subject', b'date', b'message-id'])
    sys.stdout.buffer.write(sig)
    return 0


def verify(args):
    message = open(args[0], 'rb').read()
    dnsfunc = load_dns(args[1])

    d = dkim.DKIM(message)
    count = sum(1 for name, _ in d.headers if name.lower() == b'dkim-signature')
    ok = count > 0
    for idx in range(count):
        try:
            passed = dkim.DKIM(message).verify(idx=idx, dnsfunc=dnsfunc)
        except dkim.DKIMException as e:  # e.g. "body hash mismatch" is raised, not returned
            print(e, file=sys.stderr)
            passed = False
        print('pass' if passed else 'fail')
        ok = ok and passed
    return 0 if ok else 1


if __name__ == '__main__':
    if len(sys.argv) < 2 or sys.argv[1] not in ('sign', 'verify'):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(sign(sys.argv[2:]) if sys.argv[1] == 'sign' else verify(sys.argv[2:]))
