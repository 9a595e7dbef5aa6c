#!/usr/bin/python3
"""A receiver built on Debian's python3-aiosmtpd (a third-party SMTP server implementation) with
STARTTLS required, for an interoperability test of the outbound client. Prints its port, then
appends each received message to --out as JSON lines (envelope and content)."""
import argparse
import json
import socket
import ssl
import time

from aiosmtpd.controller import Controller

ap = argparse.ArgumentParser()
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--out", required=True)
args = ap.parse_args()


class Handler:
    async def handle_DATA(self, server, session, envelope):
        with open(args.out, "a") as f:
            f.write(json.dumps({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                                "tls": session.ssl is not None,
                                "data": envelope.original_content.decode("latin-1")}) + "\n")
        return "250 2.0.0 Message accepted"


ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(args.cert, args.key)
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True)
controller.start()
print(port, flush=True)
while True:
    time.sleep(3600)
