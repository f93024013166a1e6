"""A real IMAP server for the inbound tests: Debian's dovecot, started on a loopback port
with its own config in a temporary folder (no system service), one passwd-file user, Maildir
storage in that folder. Stopped (and its folder removed) after the test.

As root, dovecot's internal, login and mail processes run as ``nobody`` (its login process
refuses root), which owns the temp folder: no system user is created. Plaintext login is
allowed, on loopback only.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "bounces"
PASSWORD = "imap-test-password"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dovecot:
    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="digest-dovecot-"))
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def _config(self) -> Path:
        # dovecot's login processes refuse to run as root: as root, everything runs as nobody.
        me = pwd.getpwuid(os.getuid()) if os.getuid() else pwd.getpwnam("nobody")
        base = self.folder
        (base / "run").mkdir()
        (base / "mail").mkdir()
        (base / "passwd").write_text(
            f"{USER}:{{PLAIN}}{PASSWORD}:{me.pw_uid}:{me.pw_gid}::{base / 'mail'}::\n"
        )
        for path in (base, base / "mail", base / "passwd"):
            if os.getuid() == 0:
                os.chown(path, me.pw_uid, me.pw_gid)
        conf = base / "dovecot.conf"
        conf.write_text(
            f"""
protocols = imap
listen = 127.0.0.1
base_dir = {base / "run"}
state_dir = {base / "run"}
instance_name = digest-test-{self.port}
default_internal_user = {me.pw_name}
default_internal_group = {grp.getgrgid(me.pw_gid).gr_name}
default_login_user = {me.pw_name}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = {base / "dovecot.log"}
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {base / "passwd"}
}}
userdb {{
  driver = passwd-file
  args = {base / "passwd"}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""
        )
        return conf

    def __enter__(self) -> Dovecot:
        conf = self._config()
        self.proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                log = (self.folder / "dovecot.log").read_text() if (
                    self.folder / "dovecot.log").exists() else ""  # fmt: skip
                raise RuntimeError(f"dovecot did not start: {err} {log}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("dovecot did not listen in time")

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
        if not os.environ.get("KEEP_DOVECOT"):
            shutil.rmtree(self.folder, ignore_errors=True)

    # -- what a test does with the mailbox -------------------------------------------------

    def client(self) -> imaplib.IMAP4:
        imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        imap.login(USER, PASSWORD)
        return imap

    def reset(self) -> None:
        """Empty the mailbox: every message gone, every folder but INBOX deleted."""
        imap = self.client()
        try:
            _, folders = imap.list()
            for line in folders:
                name = line.decode().split(" ")[-1].strip('"') if isinstance(line, bytes) else ""
                if name and name != "INBOX":
                    imap.delete(f'"{name}"')
            _, count = imap.select("INBOX")
            if count and count[0] not in (b"0", None):
                imap.store("1:*", "+FLAGS.SILENT", "(\\Deleted)")
                imap.expunge()
        finally:
            imap.logout()

    def deliver(self, *messages: bytes, folder: str = "INBOX") -> None:
        imap = self.client()
        try:
            for data in messages:
                typ, answer = imap.append(folder, "", None, data)
                assert typ == "OK", answer
        finally:
            imap.logout()

    def subjects(self, folder: str) -> list[str]:
        """The subjects in ``folder``, with ``(unread)`` after those nobody has seen."""
        imap = self.client()
        try:
            typ, _ = imap.select(f'"{folder}"', readonly=True)
            if typ != "OK":
                return []
            _, data = imap.uid("SEARCH", "ALL")
            out = []
            for uid in data[0].split():
                _, got = imap.uid("FETCH", uid, "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
                flags = got[0][0].decode() if isinstance(got[0], tuple) else ""
                subject = got[0][1].decode().strip().removeprefix("Subject: ")
                out.append(subject + ("" if "\\Seen" in flags else " (unread)"))
            return out
        finally:
            imap.logout()
