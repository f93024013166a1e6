"""One runner at a time: a lock file next to the state database — or, on PostgreSQL,
advisory locks held by server sessions.

``digest schedule`` holds it for as long as it runs and ``digest run`` for one run, so two
schedulers started by mistake, or a manual run beside the scheduler, never build an issue side
by side. The lock is an ``flock`` taken through ``filelock``: the kernel drops it when the
holding process exits for any reason (``kill -9`` included), so a crash never leaves it held.

The lock is the first guard, not the only one: a manual ``digest send`` works on the same
ledger, which claims each delivery row atomically, so it can never send a copy twice either.

**On PostgreSQL** the state is shared by processes on several hosts, so the locks are the
server's advisory locks (namespace ``NAMESPACE``), each held by a session — the server drops it
the moment that session ends, a ``kill -9`` included (for a host that vanishes, within the
keepalive bound of ``state.pg``):

- ``leadership`` (key ``LEADER``): ``digest schedule`` leads while it holds it, on a session of
  its own. A second scheduler is a standby: it asks again every ``STANDBY_POLL`` seconds, so it
  takes over at most ``STANDBY_POLL`` seconds after the leader's session ends.
- ``preparing`` (key ``PREPARE``): held, waiting for it if need be, while a run decides what the
  period's issue is and records it — so exactly one process prepares and records a new issue,
  and the others find it recorded and help send it.
- ``sharing`` (key ``SENDING``, shared): held by every sender for its send; ``send_lock``
  (``digest reset``) takes it exclusively, so an issue is never forgotten under a send.

``runner_lock`` takes nothing on PostgreSQL: several ``digest run`` processes are meant to share
one issue there, and ``preparing`` is what keeps them from building it twice.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from filelock import FileLock, Timeout

from digest.config import Config
from digest.errors import RunnerBusy, SendBusy, StateError
from digest.state import db
from digest.state.pg import PgConnection

#: How long a second runner waits for the lock before giving up with a clear message.
DEFAULT_WAIT = 3.0
#: PostgreSQL advisory locks: digest's namespace ("dige"), then one key per lock.
NAMESPACE = 0x64696765
LEADER, PREPARE, SENDING = 1, 2, 3
#: Seconds between a standby scheduler's attempts to take the leadership.
STANDBY_POLL = 2.0


def _file(config: Config) -> Path:
    if not isinstance(config.state, Path):
        raise TypeError("lock files are for a SQLite state only")
    return config.state


def lock_path(config: Config) -> Path:
    """``state/digest.sqlite3`` → ``state/digest.sqlite3.lock``."""
    state = _file(config)
    return state.with_name(state.name + ".lock")


def send_lock_path(config: Config) -> Path:
    """``state/digest.sqlite3`` → ``state/digest.sqlite3.send.lock``."""
    state = _file(config)
    return state.with_name(state.name + ".send.lock")


def holder_pid(path: Path) -> int | None:
    """The pid the current holder wrote into the lock file, if readable."""
    try:
        return int(path.read_text(encoding="ascii").strip() or "0") or None
    except (OSError, ValueError):
        return None


@contextmanager
def runner_lock(config: Config, *, wait: float = DEFAULT_WAIT) -> Iterator[Path | None]:
    """Hold the runner lock for the ``with`` block, or raise ``RunnerBusy`` after ``wait`` s.
    Nothing to hold on PostgreSQL (see the module docstring): yields ``None``."""
    if db.is_postgres(config.state):
        yield None
        return
    path = lock_path(config)
    with _held(path, wait, "runner") as taken:
        if not taken:
            raise RunnerBusy(str(path), holder_pid(path))
        yield path


@contextmanager
def send_lock(config: Config) -> Iterator[Path | None]:
    """Hold the send lock (``<state>.send.lock``) for one send, or raise ``SendBusy`` at once:
    a second sender on the same ledger has nothing to do while one is at work. On PostgreSQL
    the exclusive side of ``sharing``, on a session of its own: busy while any sender works."""
    if db.is_postgres(config.state):
        with _session(config) as conn:
            if not _try(conn, SENDING):
                raise SendBusy(str(config.state), "a digest process is sending from this state")
            yield None
        return
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


# ---------------------------------------------------------------------------------------------
# PostgreSQL: advisory locks held by a session
# ---------------------------------------------------------------------------------------------


@contextmanager
def _session(config: Config) -> Iterator[PgConnection]:
    conn = db.connect(config.state)
    assert isinstance(conn, PgConnection)
    try:
        yield conn
    finally:
        conn.close()


def _try(conn: PgConnection, key: int) -> bool:
    return bool(conn.execute(f"SELECT pg_try_advisory_lock({NAMESPACE}, {key})").fetchone()[0])


def _unlock(conn: PgConnection, key: int, *, shared: bool = False) -> None:
    if not conn.broken:  # a broken session has lost its locks already
        kind = "_shared" if shared else ""
        conn.execute(f"SELECT pg_advisory_unlock{kind}({NAMESPACE}, {key})")


@contextmanager
def preparing(conn: db.Connection) -> Iterator[None]:
    """One process at a time decides and records an issue (PostgreSQL; waits its turn)."""
    assert isinstance(conn, PgConnection)
    conn.execute(f"SELECT pg_advisory_lock({NAMESPACE}, {PREPARE})")
    try:
        yield
    finally:
        _unlock(conn, PREPARE)


@contextmanager
def sharing(conn: db.Connection) -> Iterator[None]:
    """A send is using this state's rows (PostgreSQL; shared with every other sender)."""
    assert isinstance(conn, PgConnection)
    conn.execute(f"SELECT pg_advisory_lock_shared({NAMESPACE}, {SENDING})")
    try:
        yield
    finally:
        _unlock(conn, SENDING, shared=True)


_HOLDING = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND pid = pg_backend_pid() AND classid::bigint = ? AND objid::bigint = ?"
)


class Leadership:
    """The session holding ``digest schedule``'s leadership; ``check`` says it still does."""

    def __init__(self, conn: PgConnection):
        self.conn = conn

    def check(self) -> None:
        """``StateError`` once the session (and with it the leadership) is lost."""
        row = self.conn.execute(_HOLDING, (NAMESPACE, LEADER)).fetchone()
        if not row[0]:
            raise StateError(self.conn.target.shown, "the scheduler lost its leadership")


@contextmanager
def leadership(
    config: Config, *, stop: threading.Event, waiting: Callable[[], None]
) -> Iterator[Leadership | None]:
    """Lead, or stand by until the leader's session ends (``waiting`` is called once when
    another scheduler leads); ``None`` if ``stop`` is set first."""
    with _session(config) as conn:
        told = False
        while not _try(conn, LEADER):
            if not told:
                waiting()
                told = True
            if stop.wait(STANDBY_POLL):
                yield None
                return
        try:
            yield Leadership(conn)
        finally:
            _unlock(conn, LEADER)
