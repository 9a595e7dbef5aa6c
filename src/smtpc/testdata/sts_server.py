#!/usr/bin/env python3
# For tests only: an HTTPS server for MTA-STS policies. Serves the current content of --policy
# (read on every request, so a test can change it) at /.well-known/mta-sts.txt, with --status and
# --content-type; --redirect answers 301 to another URL instead. Prints its port on the first line of
# stdout, then appends one JSON line per request ({"path": ..., "host": ...}) to --log.
import argparse
import http.server
import json
import ssl
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--policy", required=True)
ap.add_argument("--status", type=int, default=200)
ap.add_argument("--content-type", default="text/plain")
ap.add_argument("--redirect")
ap.add_argument("--log", required=True)
args = ap.parse_args()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        with open(args.log, "a") as f:
            f.write(json.dumps({"path": self.path, "host": self.headers.get("Host", "")}) + "\n")
        if args.redirect:
            self.send_response(301)
            self.send_header("Location", args.redirect)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path != "/.well-known/mta-sts.txt":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with open(args.policy, "rb") as f:
            body = f.read()
        self.send_response(args.status)
        self.send_header("Content-Type", args.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = http.server.ThreadingHTTPServer((args.host, args.port), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(args.cert, args.key)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
sys.stdout.close()
server.serve_forever()
