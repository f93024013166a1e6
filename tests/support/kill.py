"""What the kill -9 tests share: the SMTP sink in its own process (it outlives every sender),
and what it holds per recipient, read as it grows."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

import pytest


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)


def count_mail(mail: Path) -> int:
    return sum(1 for e in os.scandir(mail) if e.name.endswith(".eml"))


def settled(mail: Path) -> int:
    """The sink's count once it stops growing (a message the dead sender had finished may
    still be on its way into a file)."""
    last = -1
    while (now := count_mail(mail)) != last:
        last = now
        time.sleep(0.15)
    return last


class Held:
    """What the sink holds, per recipient: copies and their Message-IDs (read as it grows)."""

    def __init__(self, mail: Path):
        self.mail = mail
        self.seen: set[str] = set()
        self.copies: Counter[str] = Counter()
        self.ids: dict[str, set[str]] = defaultdict(set)

    def update(self) -> Held:
        for f in self.mail.glob("*.eml"):
            if f.name in self.seen:
                continue
            self.seen.add(f.name)
            msg = BytesHeaderParser(policy=policy.default).parsebytes(f.read_bytes())
            to = str(msg["X-Envelope-To"])
            assert str(msg["To"]) == to
            self.copies[to] += 1
            self.ids[to].add(str(msg["Message-ID"]))
        return self


@contextmanager
def sink_process(folder: Path) -> Iterator[int]:
    """The SMTP sink in its own process (it outlives every sender); yields its port."""
    support = Path(__file__).resolve().parent / "sink_process.py"
    sink = subprocess.Popen([sys.executable, str(support), str(folder)])
    try:
        wait_for(lambda: (folder / "port").exists(), 30, "the sink to start")
        yield int((folder / "port").read_text())
    finally:
        sink.terminate()
        sink.wait(timeout=30)
