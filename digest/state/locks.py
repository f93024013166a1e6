"""One runner at a time: a lock file next to the state database.

``digest schedule`` holds it for as long as it runs and ``digest run`` for one run, so two
schedulers started by mistake, or a manual run beside the scheduler, never build an issue side
by side. The lock is an ``flock`` taken through ``filelock``: the kernel drops it when the
holding process exits for any reason (``kill -9`` included), so a crash never leaves it held.

The lock is the first guard, not the only one: a manual ``digest send`` works on the same
ledger, which claims each delivery row atomically, so it can never send a copy twice either.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from filelock import FileLock, Timeout

from digest.config import Config
from digest.errors import RunnerBusy, SendBusy, StateError

#: How long a second runner waits for the lock before giving up with a clear message.
DEFAULT_WAIT = 3.0


def lock_path(config: Config) -> Path:
    """``state/digest.sqlite3`` → ``state/digest.sqlite3.lock``."""
    return config.state.with_name(config.state.name + ".lock")


def send_lock_path(config: Config) -> Path:
    """``state/digest.sqlite3`` → ``state/digest.sqlite3.send.lock``."""
    return config.state.with_name(config.state.name + ".send.lock")


def holder_pid(path: Path) -> int | None:
    """The pid the current holder wrote into the lock file, if readable."""
    try:
        return int(path.read_text(encoding="ascii").strip() or "0") or None
    except (OSError, ValueError):
        return None


@contextmanager
def runner_lock(config: Config, *, wait: float = DEFAULT_WAIT) -> Iterator[Path]:
    """Hold the runner lock for the ``with`` block, or raise ``RunnerBusy`` after ``wait`` s."""
    path = lock_path(config)
    with _held(path, wait, "runner") as taken:
        if not taken:
            raise RunnerBusy(str(path), holder_pid(path))
        yield path


@contextmanager
def send_lock(config: Config) -> Iterator[Path]:
    """Hold the send lock (``<state>.send.lock``) for one send, or raise ``SendBusy`` at once:
    a second sender on the same ledger has nothing to do while one is at work."""
    path = send_lock_path(config)
    with _held(path, 0, "send") as taken:
        if not taken:
            raise SendBusy(str(path), "another digest process is sending from this state")
        yield path


@contextmanager
def _held(path: Path, wait: float, what: str) -> Iterator[bool]:
    """The one lock helper: an flock on ``path``, held for the block; ``False`` when another
    process holds it after ``wait`` seconds. The holder's pid is written for messages only."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StateError(str(path.parent), f"can't create the state folder ({e.strerror})") from e
    # thread_local=False: the scheduler takes the lock in its main thread while runs happen
    # in a worker thread; the hold belongs to the process, not to a thread.
    lock = FileLock(path, timeout=wait, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        yield False
        return
    except OSError as e:
        raise StateError(str(path), f"can't take the {what} lock ({e.strerror})") from e
    try:
        with suppress(OSError), open(path, "r+", encoding="ascii") as f:
            f.truncate(0)  # the pid is only a courtesy in the message; the flock is the lock
            f.write(f"{os.getpid()}\n")
        yield True
    finally:
        lock.release()
