"""The delivery loop: stream claimed rows to worker threads, record outcomes in small batches.

The main thread owns the ledger connection: it claims rows (``pending`` → ``sending``,
committed) a batch at a time, hands them to one worker per connection through a queue, and
commits the outcomes as they come back in batches too: ``COMMIT_EVERY`` outcomes, or sooner once
the oldest waiting one is ``COMMIT_AFTER`` seconds old, or at once when nothing else is in
flight. Before issue 18 every claim and every outcome was its own small commit (≈ 8,600 commits
per 10,000 copies on 4 connections); now it is two commits per ``COMMIT_EVERY`` copies.

The crash window (``crash_window``): never more than ``WINDOW`` rows (64, or twice the
connections if that is more) are claimed and not yet committed at once, so a ``kill -9`` leaves
at most that many rows ``sending`` whose copy may have left — the only copies a restart sends
twice, each with its own Message-ID repeated (``tests/deliver/test_kill.py`` checks the bound at
every kill). No outcome waits more than ``COMMIT_AFTER`` seconds for its commit. Nothing is
loaded whole: memory stays flat whatever the list size. Each worker checks, just before a copy
leaves (at most one copy's time before: while the copy ahead of it is on its way), that
the subscriber is still active (an indexed read), so an unsubscribe landing mid-send stops
every later copy. Outcomes wait in ``_Outcomes``, which wakes the main thread only when there
is something to commit.

``stop`` (the scheduler's shutdown): no new copy starts, the ones in flight finish and are
recorded, claimed-but-unsent rows go back to ``pending``, and the loop returns.
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from digest.deliver.message import MessageTemplate, Recipient
from digest.deliver.stuffing import Copy
from digest.deliver.transport import Attempt, Envelope, Session, Transport
from digest.errors import ConnectFailed, DeliveryError, DigestError, RecipientError
from digest.state import db, deliveries
from digest.state.db import Connection
from digest.state.deliveries import Claimed, Outcome
from digest.status import DELIVERY_ORDER, DeliveryStatus

Progress = Callable[[int, int], None]

#: The most rows claimed and not yet committed at once, whatever the connections: the crash
#: window (a ``kill -9`` can send at most this many copies twice).
WINDOW = 64
#: Commit the waiting outcomes once this many have come back …
COMMIT_EVERY = 32
#: … or once the oldest has waited this many seconds.
COMMIT_AFTER = 0.5


def crash_window(connections: int) -> int:
    """At most this many copies can go out twice after a ``kill -9`` of a sender with
    ``connections`` connections (each connection needs a row in hand and one queued)."""
    return max(WINDOW, 2 * connections)


@dataclass
class DeliveryReport:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DELIVERY_ORDER, 0))
    total: int = 0
    elapsed: float = 0.0
    stopped: bool = False
    error: DigestError | None = None

    @property
    def attempted(self) -> int:
        return sum(self.counts[s] for s in ("sent", "deferred", "failed", "unknown"))

    @property
    def rate(self) -> float:
        return self.attempted / self.elapsed if self.elapsed > 0 else 0.0


class _Alive:
    """How many workers are still working (shared, thread-safe)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.lock = threading.Lock()

    def leave_unless_last(self) -> bool:
        """Count this worker out and return True — unless it is the last one standing."""
        with self.lock:
            if self.count <= 1:
                return False
            self.count -= 1
            return True


class _Ready:
    """A claimed row made ready to leave: the subscriber was still active, its copy rendered,
    its envelope sender (VERP) made."""

    __slots__ = ("copy", "job", "message_id", "sender")

    def __init__(self, job: Claimed, message_id: str, copy: Copy, sender: str):
        self.job, self.message_id, self.copy, self.sender = job, message_id, copy, sender


class _Worker(threading.Thread):
    """One connection's sender. While a copy is on its way, the worker makes the next one
    ready — takes it from the queue, checks the subscriber, renders it — and tells the
    session its envelope, which an SMTP session opens with this copy's final "."
    (``Session.send``'s ``next_copy``). At most one row is held ahead."""

    def __init__(
        self,
        run: _Run,
        *,
        transport: Transport,
        template: MessageTemplate,
        alive: _Alive,
        shared: db.Connection | None = None,
    ):
        super().__init__(daemon=True)
        self.transport, self.template, self.alive, self.shared = transport, template, alive, shared
        self.state, self.jobs, self.results = run.state, run.jobs, run.results
        self.stop, self.fatal, self.errors = run.stop, run.fatal, run.errors
        self.session: Session | None = None
        #: The next job taken from the queue early (``None`` is the end), and what
        #: ``_prepare`` made of it, if it got that far.
        self.ahead: list[tuple[Claimed | None, _Ready | Outcome | None]] = []

    def run(self) -> None:
        # SQLite: a connection per thread. PostgreSQL: the sender's one session, shared (psycopg
        # connections are thread-safe, and a worker only reads a subscriber's status).
        conn = self.shared or db.connect(self.state)
        look_ahead = functools.partial(self._look_ahead, conn)
        try:
            while (taken := self._take())[0] is not None:
                job, prepared = taken
                assert job is not None
                if self.fatal.is_set() or self.stop.is_set():
                    self.results.put(Outcome(job.subscriber_id, "pending", ""))
                    continue
                try:
                    ready = prepared or self._prepare(conn, job)
                    if isinstance(ready, _Ready):
                        ready = self._deliver(ready, look_ahead)
                    self.results.put(ready)
                except ConnectFailed as e:
                    if self.alive.leave_unless_last():
                        # Servers often cap connections per client: hand the copies back and
                        # let the other connections carry on. The last one standing fails.
                        for held in (job, *(j for j, _ in self.ahead if j is not None)):
                            self.jobs.put(held)
                        return
                    self._fail(job, e)
                except Exception as e:
                    self._fail(job, e)
        finally:
            if conn is not self.shared:
                conn.close()
            self._disconnect()

    def _take(self) -> tuple[Claimed | None, _Ready | Outcome | None]:
        return self.ahead.pop() if self.ahead else (self.jobs.get(), None)

    def _look_ahead(self, conn: Connection) -> Envelope | None:
        """Take the next job now and make it ready, if one is queued; its envelope, if it
        is to be sent (``Session.send``'s ``next_copy``). A failure here is left for the
        job's turn, where it is handled as usual: it must not touch the copy being sent."""
        if not self.ahead:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                return None
            prepared = None
            if job is not None and not (self.fatal.is_set() or self.stop.is_set()):
                try:
                    prepared = self._prepare(conn, job)
                except Exception:  # prepared again, and reported, in its turn
                    prepared = None
            self.ahead.append((job, prepared))
        ready = self.ahead[0][1]
        if not isinstance(ready, _Ready) or self.fatal.is_set() or self.stop.is_set():
            return None
        return ready.sender, ready.job.email

    def _fail(self, job: Claimed, error: Exception) -> None:
        """Stop the whole send; the row goes back to pending and the caller raises ``error``
        (a bug keeps its traceback there)."""
        self.errors.append(error)
        self.fatal.set()
        self.results.put(Outcome(job.subscriber_id, "pending", f"not sent: {error}"))

    def _disconnect(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None

    def _prepare(self, conn: Connection, job: Claimed) -> _Ready | Outcome:
        """Is the subscriber still active (an indexed read, a copy's time or less before it
        leaves)? Then render the copy; else the outcome that needs no sending."""
        standing = deliveries.subscriber_status(conn, job.subscriber_id)
        if standing != "active":
            return Outcome(job.subscriber_id, "skipped", f"subscriber is {standing}")
        message_id = self.template.message_id(job.email)
        try:
            recipient = Recipient(job.email, job.name, job.token, job.first_name)
            copy = self.template.render_copy(recipient, message_id)
        except RecipientError as e:
            return Outcome(job.subscriber_id, "failed", str(e), message_id)
        return _Ready(job, message_id, copy, self.template.envelope_sender(job.token))

    def _deliver(self, ready: _Ready, next_copy: Callable[[], Envelope | None]) -> Outcome:
        job = ready.job
        attempt = Attempt("retry")
        for n in range(self.transport.retries + 1):
            if n and self.stop.wait(self.transport.backoff(n - 1)):
                break  # shutting down: leave it deferred rather than wait out the back-off
            if self.session is None:
                self.session = self.transport.open()
            self.transport.acquire()
            attempt = self.session.send(
                ready.sender, job.email, ready.copy, ready.message_id, next_copy=next_copy
            )
            if attempt.reconnect:
                self._disconnect()
            if attempt.status != "retry":
                break
        final: DeliveryStatus = "deferred" if attempt.status == "retry" else attempt.status
        return Outcome(job.subscriber_id, final, attempt.reason, ready.message_id, attempt.bounced)


def deliver(
    conn: Connection,
    *,
    state: db.Target,
    key: str,
    template: MessageTemplate,
    transport: Transport,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
) -> DeliveryReport:
    """Send every pending copy of issue ``key``; returns counts for this run."""
    run = _Run(conn, state=state, key=key, transport=transport, stop=stop or threading.Event(),
               progress=progress)  # fmt: skip
    alive = _Alive(transport.connections)
    workers = [
        _Worker(run, transport=transport, template=template, alive=alive,
                shared=conn if db.is_postgres(conn) else None)
        for _ in range(transport.connections)
    ]  # fmt: skip
    for w in workers:
        w.start()
    try:
        run.loop()
    finally:
        run.shut_down(workers)
    report = run.report
    report.elapsed = time.monotonic() - run.started
    report.stopped = run.stop.is_set()
    if run.errors:
        if not isinstance(run.errors[0], DigestError):
            raise run.errors[0]
        report.error = run.errors[0]
    return report


class _Run:
    """The main thread's side of one send: it alone claims rows and records outcomes.

    The crash bound lives here: ``in_flight`` (claimed, outcome not yet committed) never
    passes ``window``; rows are claimed ``window - in_flight`` at a time once a batch of
    outcomes has been committed (or when the workers' queue runs dry), and outcomes are
    committed ``COMMIT_EVERY`` at a time, or after ``COMMIT_AFTER`` seconds, or as soon as
    nothing else is in flight.
    """

    def __init__(
        self,
        conn: Connection,
        *,
        state: db.Target,
        key: str,
        transport: Transport,
        stop: threading.Event,
        progress: Progress | None,
    ):
        self.conn, self.state, self.key, self.stop, self.progress = (
            conn, state, key, stop, progress,
        )  # fmt: skip
        self.window = crash_window(transport.connections)
        self.batch = max(1, min(COMMIT_EVERY, self.window // 2))
        self.report = DeliveryReport(total=deliveries.counts(conn, key)["pending"])
        self.started = time.monotonic()
        self.jobs: queue.Queue[Claimed | None] = queue.Queue()
        self.results = _Outcomes()
        self.fatal = threading.Event()
        self.errors: list[Exception] = []
        self.in_flight = 0  # claimed, outcome not yet committed
        self.done = 0

    def loop(self) -> None:
        exhausted = False
        while not (self.stop.is_set() or self.fatal.is_set()):
            room = self.window - self.in_flight
            if not exhausted and room > 0 and (room >= self.batch or self.jobs.empty()):
                claimed, skipped = deliveries.claim(self.conn, self.key, room, path=self.state)
                self.record(skipped)
                exhausted = not claimed and not skipped
                for job in claimed:
                    self.jobs.put(job)
                self.in_flight += len(claimed)
            if self.in_flight == 0:
                if exhausted:
                    return
                continue
            self.collect()

    def collect(self) -> None:
        """Wait for outcomes and commit them: a batch, or every row in flight, or what came
        back once the oldest has waited ``COMMIT_AFTER`` (``_Outcomes.take``)."""
        outcomes = self.results.take(min(self.batch, self.in_flight), patience=COMMIT_AFTER)
        self.in_flight -= len(outcomes)
        self.record(outcomes)

    def record(self, outcomes: list[Outcome]) -> None:
        if not outcomes:
            return
        deliveries.record_outcomes(self.conn, self.key, outcomes, path=self.state)
        for o in outcomes:
            if o.status in self.report.counts:
                self.report.counts[o.status] += 1
            if o.status != "pending":
                self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.report.total)

    def shut_down(self, workers: list[_Worker]) -> None:
        """Claimed rows no worker has started go straight back to pending; the rest are
        recorded once every worker has finished its message in flight."""
        released: list[Outcome] = []
        while True:
            try:
                unstarted = self.jobs.get_nowait()
            except queue.Empty:
                break
            if unstarted is not None:
                released.append(Outcome(unstarted.subscriber_id, "pending", ""))
        for _ in workers:
            self.jobs.put(None)
        for w in workers:
            w.join()
        self.record(released + self.results.take(0, patience=0))


class _Outcomes:
    """Where workers leave outcomes for the main thread, which is woken only when it has
    something to commit — not once per copy, which costs a single connection's sender a
    thread switch per message."""

    #: With nothing back at all, ``take`` returns empty this often (to see ``stop``).
    IDLE = 0.2

    def __init__(self) -> None:
        self.items: list[Outcome] = []
        self.first_at = 0.0  # when the oldest of ``items`` came back
        self.want = 1
        self.ready = threading.Condition(threading.Lock())

    def put(self, outcome: Outcome) -> None:
        with self.ready:
            if not self.items:
                self.first_at = time.monotonic()
            self.items.append(outcome)
            if len(self.items) >= self.want:
                self.ready.notify()

    def take(self, want: int, *, patience: float) -> list[Outcome]:
        """Every outcome back, once there are ``want`` of them or the oldest has waited
        ``patience`` seconds; nothing if none came back within ``IDLE`` seconds."""
        with self.ready:
            self.want = max(1, want)
            deadline = time.monotonic() + self.IDLE
            while len(self.items) < want:
                if self.items:
                    deadline = self.first_at + patience
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.ready.wait(left)
            taken, self.items = self.items, []
            return taken


__all__ = ["COMMIT_AFTER", "COMMIT_EVERY", "WINDOW", "DeliveryError", "DeliveryReport",
           "crash_window", "deliver"]  # fmt: skip
