#!/usr/bin/python3
"""Deterministic, seeded message corpus for the benchmarks (issue 7). Standard library only.

The same seed gives byte-identical messages on every machine. Message kinds, chosen by weight:

  plain            text/plain, quoted-printable or 7bit
  alternative      multipart/alternative (text + HTML)
  attachment       multipart/mixed with a base64 attachment (PDF/PNG/zip-like random bytes)
  rfc822           multipart/mixed carrying a forwarded message/rfc822
  malformed        a broken one: missing closing boundary, truncated base64, 8-bit bytes in headers,
                   no blank line after the headers, or a header folded over an empty line

A fifth of all messages get non-ASCII RFC 2047 headers (Subject, From display name). Sizes are
log-uniform: most 1 KB..64 KB, about 10 % 64 KB..1 MB, about 1 % 1 MB..max_size (default 5 MB).

Output is a maildir (cur/ new/ tmp/): Dovecot reads it as is, and it is what `posthorn import maildir
ADDRESS DIR` reads. Files use LF line ends (the maildir convention) and carry the exact size in the
name (",S=") as Dovecot expects. `write_maildir(..., link_from=...)` hard-links the files of another
maildir instead of writing copies, so 200 mailboxes or a 100,000-message mailbox cost little disk.

  /usr/bin/python3 bench/corpus.py --out DIR --count 100 [--seed 1] [--max-size 5000000]
"""
import argparse
import base64
import math
import os
import random
from pathlib import Path

WORDS = ("the mail server stores every message once and serves it over imap pop3 and smtp while the "
         "index keeps flags uids and modseqs in one place so a client that reconnects sees the same "
         "state quarterly report meeting agenda invoice shipment travel plans holiday budget review").split()
NAMES = ["Alice Martin", "Bob Stone", "Carol White", "Dave Brown", "Erin Black", "Frank Green",
         "alice", "Grace Hopper", "Heidi Klum", "Ivan Petrov"]
UNICODE_NAMES = ["Zoë Ålander", "Jürgen Müller", "Łukasz Żółw", "Анна Иванова", "山田 太郎", "François Dupré"]
UNICODE_SUBJECTS = ["Grüße aus Köln", "Réunion de l'équipe", "Отчёт за квартал", "会議の議事録",
                    "Ñandú — señal", "Smörgåsbord 🎉"]
KINDS = (("plain", 40), ("alternative", 25), ("attachment", 15), ("rfc822", 12), ("malformed", 8))


def rfc2047(text, rng):
    """Encoded-word in B or Q encoding [RFC 2047 §4]."""
    raw = text.encode("utf-8")
    if rng.random() < 0.5:
        return "=?UTF-8?B?" + base64.b64encode(raw).decode() + "?="
    q = "".join(chr(b) if (48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122) else
                "_" if b == 32 else f"={b:02X}" for b in raw)
    return "=?UTF-8?Q?" + q + "?="


def pick_size(rng, max_size):
    r = rng.random()
    lo, hi = (1024, 65536) if r < 0.89 else (65536, 1 << 20) if r < 0.99 else (1 << 20, max_size)
    hi = min(hi, max_size)
    lo = min(lo, hi)
    return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def text_body(rng, size):
    lines, n, line = [], 0, []
    while n < size:
        w = rng.choice(WORDS)
        line.append(w)
        n += len(w) + 1
        if sum(len(x) + 1 for x in line) > 68:
            lines.append(" ".join(line))
            line = []
            if rng.random() < 0.15:
                lines.append("")
    lines.append(" ".join(line))
    return "\n".join(lines) + "\n"


def b64_lines(data):
    enc = base64.b64encode(data).decode()
    return "\n".join(enc[i:i + 76] for i in range(0, len(enc), 76)) + "\n"


def headers(rng, i, to, subject_hint, non_ascii):
    name = rng.choice(UNICODE_NAMES) if non_ascii else rng.choice(NAMES)
    local = name.split()[0].lower().encode("ascii", "ignore").decode() or "user"
    disp = rfc2047(name, rng) if non_ascii else f'"{name}"'
    subject = rfc2047(rng.choice(UNICODE_SUBJECTS), rng) if non_ascii else \
        f"{subject_hint} {' '.join(rng.choice(WORDS) for _ in range(4))}"
    day = 1 + i % 28
    return [f"Return-Path: <{local}@example.org>",
            f"From: {disp} <{local}@example.org>",
            f"To: {to}",
            f"Subject: {subject}",
            f"Date: Mon, {day:02d} Jun 2026 {i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d} +0000",
            f"Message-ID: <{i}.{rng.getrandbits(48):x}@corpus.bench.test>",
            "MIME-Version: 1.0"]


def build(rng, i, to, max_size):
    """One message as bytes (LF line ends)."""
    kind = rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
    size = pick_size(rng, max_size)
    non_ascii = rng.random() < 0.2
    h = headers(rng, i, to, kind, non_ascii)
    b = f"b{i}_{rng.getrandbits(32):08x}"
    if kind == "plain":
        h.append("Content-Type: text/plain; charset=utf-8")
        body = text_body(rng, size)
        if non_ascii:
            h.append("Content-Transfer-Encoding: 8bit")
            body = "Grüße, " + body
    elif kind == "alternative":
        t = text_body(rng, size // 2)
        h.append(f'Content-Type: multipart/alternative; boundary="{b}"')
        body = (f"This is a multi-part message in MIME format.\n--{b}\nContent-Type: text/plain; charset=us-ascii\n\n{t}"
                f"--{b}\nContent-Type: text/html; charset=us-ascii\n\n<html><body><p>{t.replace(chr(10), '<br>')}</p>"
                f"</body></html>\n--{b}--\n")
    elif kind == "attachment":
        fname, ctype = rng.choice([("report.pdf", "application/pdf"), ("photo.png", "image/png"),
                                   ("data.zip", "application/zip")])
        if non_ascii:
            fname = "=?UTF-8?B?" + base64.b64encode(("Übersicht-" + fname).encode()).decode() + "?="
        data = rng.randbytes(max(256, size * 3 // 4))
        h.append(f'Content-Type: multipart/mixed; boundary="{b}"')
        body = (f"--{b}\nContent-Type: text/plain; charset=us-ascii\n\nSee the attachment.\n\n"
                f"--{b}\nContent-Type: {ctype}; name=\"{fname}\"\nContent-Transfer-Encoding: base64\n"
                f"Content-Disposition: attachment; filename=\"{fname}\"\n\n{b64_lines(data)}--{b}--\n")
    elif kind == "rfc822":
        inner_h = headers(rng, i + 1000003, "someone@example.org", "forwarded", non_ascii)
        inner = "\n".join(inner_h + ["Content-Type: text/plain; charset=us-ascii", "",
                                     text_body(rng, max(512, size - 800))])
        h.append(f'Content-Type: multipart/mixed; boundary="{b}"')
        body = (f"--{b}\nContent-Type: text/plain; charset=us-ascii\n\nForwarded message below.\n\n"
                f"--{b}\nContent-Type: message/rfc822\nContent-Disposition: inline\n\n{inner}\n--{b}--\n")
    else:
        flaw = rng.randrange(5)
        t = text_body(rng, size)
        if flaw == 0:  # multipart without its closing boundary
            h.append(f'Content-Type: multipart/mixed; boundary="{b}"')
            body = f"--{b}\nContent-Type: text/plain\n\n{t}"
        elif flaw == 1:  # base64 cut in the middle of a quantum
            h.append("Content-Type: application/octet-stream")
            h.append("Content-Transfer-Encoding: base64")
            body = b64_lines(rng.randbytes(max(256, size * 3 // 4)))[:-7] + "\n"
        elif flaw == 2:  # raw 8-bit Latin-1 in a header
            h.append("Content-Type: text/plain")
            return ("\n".join(h) + "\nX-Note: caf\xe9 cr\xe8me\n\n" + t).encode("latin-1", "replace")
        elif flaw == 3:  # no blank line between headers and body
            h.append("Content-Type: text/plain")
            return ("\n".join(h) + "\n" + t).encode()
        else:  # a header continuation after an empty continuation line, unknown encoding
            h.append("Content-Type: text/plain;\n \n charset=unknown-8bit")
            h.append("Content-Transfer-Encoding: x-unknown")
            body = t
    return ("\n".join(h) + "\n\n" + body).encode("utf-8")


def messages(seed, count, to="bench@bench.test", max_size=5_000_000):
    """Yields (index, bytes) for `count` messages; deterministic for (seed, count-prefix)."""
    for i in range(count):
        rng = random.Random(f"{seed}:{i}")  # per message: a prefix of a longer corpus is the same
        yield i, build(rng, i, to, max_size)


def _flags(i):
    return "S" if i % 3 else ""  # two thirds seen, the rest unseen


def write_maildir(out, seed=1, count=100, max_size=5_000_000, link_from=None, to="bench@bench.test"):
    """Writes (or, with link_from = another maildir of this module, hard-links) `count` messages into
    the maildir `out`. With link_from holding fewer files, they are reused round-robin. Returns bytes."""
    out = Path(out)
    for sub in ("cur", "new", "tmp"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    total = 0
    if link_from is not None:
        pool = sorted((Path(link_from) / "cur").iterdir())
        for i in range(count):
            src = pool[i % len(pool)]
            size = src.stat().st_size
            os.link(src, out / "cur" / f"{1780000000 + i}.M{i}P{seed}L.bench,S={size}:2,{_flags(i)}")
            total += size
        return total
    for i, data in messages(seed, count, to, max_size):
        (out / "cur" / f"{1780000000 + i}.M{i}P{seed}.bench,S={len(data)}:2,{_flags(i)}").write_bytes(data)
        total += len(data)
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="maildir to create")
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-size", type=int, default=5_000_000)
    args = ap.parse_args()
    total = write_maildir(args.out, args.seed, args.count, args.max_size)
    print(f"{args.count} messages, {total} bytes in {args.out}")


if __name__ == "__main__":
    main()
