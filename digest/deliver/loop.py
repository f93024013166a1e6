"""The delivery loop: stream claimed rows to worker threads, record each outcome.

The main thread owns the ledger connection: it claims rows (``pending`` → ``sending``,
committed) for the connections that are free — never more rows than there are connections —
hands them to one worker per connection, and records outcomes as they come back (committed,
those arriving together in one transaction) before it claims again. So a ``kill -9`` leaves at
most ``smtp.connections`` rows ``sending`` whose copy may have left: the crash bound. Nothing
is loaded whole: memory stays flat whatever the list size. Each worker checks, just before a
copy leaves, that the subscriber is still active (an indexed read), so an unsubscribe landing
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
            data = self.template.render(Recipient(job.email, job.name, job.token))
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

    The crash bound lives here: at most ``transport.connections`` rows are claimed and not
    yet recorded at any moment (one per connection), and a batch of outcomes is committed
    before the rows that replace them are claimed. So a ``kill -9`` can leave at most that
    many copies delivered but still ``sending`` — the only copies a restart sends twice.
    Outcomes that arrive together share one commit.
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
        self.slots = transport.connections
        self.report = DeliveryReport(total=deliveries.counts(conn, key)["pending"])
        self.started = time.monotonic()
        self.jobs: queue.Queue[Claimed | None] = queue.Queue()
        self.results: queue.Queue[Outcome] = queue.Queue()
        self.fatal = threading.Event()
        self.errors: list[Exception] = []
        self.in_flight = 0  # claimed, outcome not yet recorded
        self.done = 0

    def loop(self) -> None:
        exhausted = False
        while not (self.stop.is_set() or self.fatal.is_set()):
            if not exhausted and self.in_flight < self.slots:
                claimed, skipped = deliveries.claim(
                    self.conn, self.key, self.slots - self.in_flight, path=self.state
                )
                self.record(skipped)
                exhausted = not claimed and not skipped
                for job in claimed:
                    self.jobs.put(job)
                self.in_flight += len(claimed)
            if self.in_flight == 0:
                if exhausted:
                    return
                continue
            # Record before claiming again: a connection gets its next row only once the
            # outcome of its last one is durable.
            outcomes = _drain(self.results, wait=0.2)
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
        self.record(released + _drain(self.results, wait=0))


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


__all__ = ["DeliveryError", "DeliveryReport", "deliver"]
