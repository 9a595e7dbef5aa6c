#!/usr/bin/python3
"""A scriptable SMTP receiver for the outbound client's integration tests (stdlib asyncio only).

It advertises the extensions it is told to, answers RCPT per address as told, supports STARTTLS,
implicit TLS, AUTH PLAIN/LOGIN and BDAT, and logs every connection, command and message as JSON lines
so the test can check what the client sent (including whether a command arrived pipelined behind
another). Prints the port it listens on, then serves until killed."""
import argparse
import asyncio
import base64
import json
import ssl
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--ehlo", default="PIPELINING,8BITMIME,ENHANCEDSTATUSCODES", help="comma-separated keywords")
ap.add_argument("--cert")
ap.add_argument("--key")
ap.add_argument("--implicit-tls", action="store_true")
ap.add_argument("--broken-tls", action="store_true", help="say 220 to STARTTLS, then close")
ap.add_argument("--auth", help="user:password")
ap.add_argument("--greeting", default="220 sink.test ESMTP")
ap.add_argument("--no-ehlo", action="store_true")
ap.add_argument("--rcpt", action="append", default=[], help="address=reply")
ap.add_argument("--data-reply", default="250 2.0.0 Ok: queued")
ap.add_argument("--log", required=True)
args = ap.parse_args()

rcpt_replies = dict(r.split("=", 1) for r in args.rcpt)
log = open(args.log, "a", buffering=1)
conn_ids = iter(range(1, 1 << 30))


def event(**kw):
    log.write(json.dumps(kw) + "\n")


def tls_context():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)
    return ctx


async def handle(reader, writer):
    cid = next(conn_ids)
    tls = args.implicit_tls
    event(conn=cid, event="connect", tls=tls)

    async def reply(text):
        writer.write(text.encode() + b"\r\n")
        await writer.drain()

    async def line():
        raw = await reader.readline()
        if not raw:
            raise EOFError
        return raw.rstrip(b"\r\n").decode("utf-8", "replace"), len(reader._buffer) > 0

    authed = False
    try:
        await reply(args.greeting)
        if not args.greeting.startswith("220"):
            return
        mail_ok = False
        rcpts = 0
        while True:
            cmd, buffered = await line()
            event(conn=cid, cmd=cmd, buffered=buffered, tls=tls)
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO":
                if args.no_ehlo:
                    await reply("502 5.5.1 EHLO not supported")
                    continue
                kws = [k for k in args.ehlo.split(",") if k]
                if args.cert and not tls and not args.implicit_tls:
                    kws.append("STARTTLS")
                if args.auth and tls:
                    kws.append("AUTH PLAIN LOGIN")
                lines = ["sink.test"] + kws
                await reply("\r\n".join(f"250-{l}" for l in lines[:-1]) + ("\r\n" if len(lines) > 1 else "") +
                            f"250 {lines[-1]}")
            elif verb == "HELO":
                await reply("250 sink.test")
            elif verb == "STARTTLS":
                await reply("220 2.0.0 Ready to start TLS")
                if args.broken_tls:
                    writer.close()
                    return
                await writer.start_tls(tls_context())
                tls = True
                event(conn=cid, event="tls")
            elif verb == "AUTH":
                parts = cmd.split(" ")
                user, password = args.auth.split(":", 1)
                if parts[1].upper() == "PLAIN":
                    given = base64.b64decode(parts[2]).split(b"\0")
                    ok = given[1:] == [user.encode(), password.encode()]
                else:
                    await reply("334 VXNlcm5hbWU6")
                    u, _ = await line()
                    await reply("334 UGFzc3dvcmQ6")
                    p, _ = await line()
                    ok = base64.b64decode(u).decode() == user and base64.b64decode(p).decode() == password
                authed = ok
                event(conn=cid, event="auth", ok=ok)
                await reply("235 2.7.0 Authentication successful" if ok else "535 5.7.8 Bad credentials")
            elif verb == "MAIL":
                if args.auth and not authed:
                    await reply("530 5.7.0 Authentication required")
                    continue
                mail_ok = True
                rcpts = 0
                await reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                if not mail_ok:
                    await reply("503 5.5.1 Need MAIL")
                    continue
                addr = cmd[cmd.index("<") + 1:cmd.index(">")]
                r = rcpt_replies.get(addr, "250 2.1.5 Ok")
                if r.startswith("2"):
                    rcpts += 1
                await reply(r)
            elif verb == "DATA":
                if not rcpts:
                    await reply("554 5.5.1 No valid recipients")
                    continue
                await reply("354 End data with <CR><LF>.<CR><LF>")
                data = b""
                while True:
                    raw = await reader.readline()
                    if not raw:
                        raise EOFError
                    if raw == b".\r\n":
                        break
                    data += raw
                event(conn=cid, data=data.decode("latin-1"), tls=tls)
                mail_ok = False
                await reply(args.data_reply)
            elif verb == "BDAT":
                parts = cmd.split(" ")
                chunk = await reader.readexactly(int(parts[1]))
                event(conn=cid, bdat=chunk.decode("latin-1"), last=len(parts) > 2)
                if len(parts) > 2:
                    mail_ok = False
                    await reply(args.data_reply)
                else:
                    await reply("250 2.0.0 chunk ok")
            elif verb == "RSET":
                mail_ok = False
                await reply("250 2.0.0 Ok")
            elif verb == "NOOP":
                await reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                await reply("221 2.0.0 Bye")
                return
            else:
                await reply("502 5.5.2 Unknown command")
    except (EOFError, ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
        pass
    finally:
        event(conn=cid, event="close")
        try:
            writer.close()
        except Exception:
            pass


async def main():
    ssl_ctx = tls_context() if args.implicit_tls else None
    server = await asyncio.start_server(handle, args.host, args.port, ssl=ssl_ctx)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
