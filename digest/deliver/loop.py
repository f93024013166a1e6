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
leaves, that the subscriber is still active (an indexed read), so an unsubscribe landing
mid-send stops every later copy.

``stop`` (the scheduler's shutdown): no new copy starts, the ones in flight finish and are
recorded, claimed-but-unsent rows go back to ``pending``, and the loop returns.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from digest.deliver.message import MessageTemplate, Recipient
from digest.deliver.transport import Attempt, Session, Transport
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


class _Worker(threading.Thread):
    def __init__(
        self,
        *,
        transport: Transport,
        template: MessageTemplate,
        state: db.Target,
        jobs: queue.Queue[Claimed | None],
        results: queue.Queue[Outcome],
        stop: threading.Event,
        fatal: threading.Event,
        errors: list[Exception],
        alive: _Alive,
        shared: db.Connection | None = None,
    ):
        super().__init__(daemon=True)
        self.shared = shared
        self.transport = transport
        self.template = template
        self.state = state
        self.jobs = jobs
        self.results = results
        self.stop = stop
        self.fatal = fatal
        self.errors = errors
        self.alive = alive
        self.session: Session | None = None

    def run(self) -> None:
        # SQLite: a connection per thread. PostgreSQL: the sender's one session, shared (psycopg
        # connections are thread-safe, and a worker only reads a subscriber's status).
        conn = self.shared or db.connect(self.state)
        try:
            while (job := self.jobs.get()) is not None:
                if self.fatal.is_set() or self.stop.is_set():
                    self.results.put(Outcome(job.subscriber_id, "pending", ""))
                    continue
                try:
                    self.results.put(self._deliver(conn, job))
                except ConnectFailed as e:
                    if self.alive.leave_unless_last():
                        # Servers often cap connections per client: hand the copy back and
                        # let the other connections carry on. The last one standing fails.
                        self.jobs.put(job)
                        return
                    self._fail(job, e)
                except Exception as e:
                    self._fail(job, e)
        finally:
            if conn is not self.shared:
                conn.close()
            self._disconnect()

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

    def _deliver(self, conn: Connection, job: Claimed) -> Outcome:
        standing = deliveries.subscriber_status(conn, job.subscriber_id)
        if standing != "active":
            return Outcome(job.subscriber_id, "skipped", f"subscriber is {standing}")
        message_id = self.template.message_id(job.email)
        try:
            recipient = Recipient(job.email, job.name, job.token, job.first_name)
            data = self.template.render_copy(recipient, message_id)
        except RecipientError as e:
            return Outcome(job.subscriber_id, "failed", str(e), message_id)
        attempt = Attempt("retry")
        for n in range(self.transport.retries + 1):
            if n and self.stop.wait(self.transport.backoff(n - 1)):
                break  # shutting down: leave it deferred rather than wait out the back-off
            if self.session is None:
                self.session = self.transport.open()
            self.transport.acquire()
            sender = self.template.envelope_sender(job.token)
            attempt = self.session.send(sender, job.email, data, message_id)
            if attempt.reconnect:
                self._disconnect()
            if attempt.status != "retry":
                break
        final: DeliveryStatus = "deferred" if attempt.status == "retry" else attempt.status
        return Outcome(job.subscriber_id, final, attempt.reason, message_id, attempt.bounced)


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
        _Worker(transport=transport, template=template, state=state,
                jobs=run.jobs, results=run.results, stop=run.stop, fatal=run.fatal,
                errors=run.errors, alive=alive, shared=conn if db.is_postgres(conn) else None)
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
        self.results: queue.Queue[Outcome] = queue.Queue()
        self.fatal = threading.Event()
        self.errors: list[Exception] = []
        self.in_flight = 0  # claimed, outcome not yet committed
        self.waiting: list[Outcome] = []  # came back, not yet committed
        self.oldest = 0.0  # when the first of ``waiting`` came back
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
        """Wait for outcomes; commit the waiting ones when a batch is full, the oldest is
        ``COMMIT_AFTER`` old, or every row in flight has come back."""
        wait = 0.2
        if self.waiting:
            wait = max(0.0, min(wait, self.oldest + COMMIT_AFTER - time.monotonic()))
        came = _drain(self.results, wait=wait)
        if came and not self.waiting:
            self.oldest = time.monotonic()
        self.waiting += came
        if self.waiting and (
            len(self.waiting) >= self.batch
            or len(self.waiting) >= self.in_flight
            or time.monotonic() - self.oldest >= COMMIT_AFTER
        ):
            outcomes, self.waiting = self.waiting, []
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
        self.record(self.waiting + released + _drain(self.results, wait=0))
        self.waiting = []


def _drain(results: queue.Queue[Outcome], *, wait: float) -> list[Outcome]:
    """Every outcome available now, waiting up to ``wait`` seconds for the first one."""
    out: list[Outcome] = []
    try:
        out.append(results.get(timeout=wait) if wait > 0 else results.get_nowait())
    except queue.Empty:
        return out
    while True:
        try:
            out.append(results.get_nowait())
        except queue.Empty:
            return out


__all__ = ["COMMIT_AFTER", "COMMIT_EVERY", "WINDOW", "DeliveryError", "DeliveryReport",
           "crash_window", "deliver"]  # fmt: skip
