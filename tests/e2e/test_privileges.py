"""Privilege model (issue 8, docs/security.md): everything in the data folder is for the server's
user only (files 0600, folders 0700) after real traffic, and the binary cannot run a program: it
imports none of the functions that start one. The drop to run_as_user is test_serve.py's
test_drops_privileges_after_binding."""
import imaplib
import smtplib
import stat
import subprocess

from conftest import BIN


def test_data_files_are_private_after_real_traffic(server):
    # Local delivery (blob, index, WAL), an IMAP APPEND, a queued submission (spool) and DKIM keys.
    with smtplib.SMTP("127.0.0.1", server.ports["mx"], timeout=30) as smtp:
        smtp.sendmail("someone@example.org", [server.user], "Subject: one\r\n\r\nbody\r\n")
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=30) as smtp:
        smtp.login(server.user, server.password)
        smtp.sendmail(server.user, ["friend@remote.invalid"], "Subject: two\r\n\r\nbody\r\n")
    imap = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=30)
    imap.login(server.user, server.password)
    assert imap.append("INBOX", None, None, b"Subject: three\r\n\r\nbody\r\n")[0] == "OK"
    imap.logout()
    server.cli("dkim", "generate", "example.test", "--selector", "perm")

    data = server.root / "data"
    seen = 0
    loose = []
    for path in [data, *data.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        seen += 1
        if path.is_symlink():
            continue
        if mode & 0o077:
            loose.append(f"{path.relative_to(server.root)} {mode:o}")
    assert seen > 5
    assert not loose, loose


def test_the_binary_cannot_run_programs():
    """Nothing a client sends can make Posthorn start a program: the binary does not even import
    system(), popen(), fork() or the exec family (only the ELF's own imports; libraries it links do
    not start programs on its behalf)."""
    out = subprocess.run(["nm", "-D", "--undefined-only", BIN], capture_output=True, text=True, check=True).stdout
    imported = {line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip()}
    assert len(imported) > 50, f"nm listed too little to judge: {sorted(imported)}"
    forbidden = {"system", "popen", "fork", "vfork", "execl", "execlp", "execle", "execv", "execve",
                 "execvp", "execvpe", "fexecve", "posix_spawn", "posix_spawnp", "clone3"}
    assert not (imported & forbidden), sorted(imported & forbidden)
