"""The delivery loop: stream claimed rows to worker threads, record each outcome.

The main thread owns the ledger connection: it claims a few rows at a time (``pending`` →
``sending``, committed), hands them to one worker per connection through a small bounded queue,
and records outcomes as they come back (committed). Nothing is loaded whole: memory stays flat
whatever the list size. Each worker checks, just before a copy leaves, that the subscriber is
still active (an indexed read), so an unsubscribe landing mid-send stops every later copy.

``stop`` (the scheduler's shutdown): no new copy starts, the ones in flight finish and are
recorded, claimed-but-unsent rows go back to ``pending``, and the loop returns.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from digest.deliver.message import DkimSigner, MessageTemplate, Recipient
from digest.deliver.transport import Attempt, Session, Transport
from digest.errors import ConnectFailed, DeliveryError, DigestError, RecipientError
from digest.state import db, ledger
from digest.state.ledger import Claimed, Outcome
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
        signer: DkimSigner | None,
        state: Path,
        jobs: queue.Queue[Claimed | None],
        results: queue.Queue[Outcome],
        stop: threading.Event,
        fatal: threading.Event,
        errors: list[Exception],
        alive: _Alive,
    ):
        super().__init__(daemon=True)
        self.transport = transport
        self.template = template
        self.signer = signer
        self.state = state
        self.jobs = jobs
        self.results = results
        self.stop = stop
        self.fatal = fatal
        self.errors = errors
        self.alive = alive
        self.session: Session | None = None

    def run(self) -> None:
        conn = db.connect(self.state)
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

    def _deliver(self, conn: sqlite3.Connection, job: Claimed) -> Outcome:
        standing = ledger.subscriber_status(conn, job.subscriber_id)
        if standing != "active":
            return Outcome(job.subscriber_id, "skipped", f"subscriber is {standing}")
        message_id = self.template.message_id(job.email)
        try:
            data = self.template.render(Recipient(job.email, job.name, job.token))
        except RecipientError as e:
            return Outcome(job.subscriber_id, "failed", str(e), message_id)
        if self.signer is not None:
            data = self.signer.sign(data)
        attempt = Attempt("retry")
        for n in range(self.transport.retries + 1):
            if n and self.stop.wait(self.transport.backoff(n - 1)):
                break  # shutting down: leave it deferred rather than wait out the back-off
            if self.session is None:
                self.session = self.transport.open()
            self.transport.acquire()
            attempt = self.session.send(self.template.sender, job.email, data, message_id)
            if attempt.reconnect:
                self._disconnect()
            if attempt.status != "retry":
                break
        final: DeliveryStatus = "deferred" if attempt.status == "retry" else attempt.status
        return Outcome(job.subscriber_id, final, attempt.reason, message_id, attempt.bounced)


def deliver(
    conn: sqlite3.Connection,
    *,
    state: Path,
    key: str,
    template: MessageTemplate,
    transport: Transport,
    signer: DkimSigner | None = None,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
) -> DeliveryReport:
    """Send every pending copy of issue ``key``; returns counts for this run."""
    stop = stop or threading.Event()
    report = DeliveryReport()
    started = time.monotonic()
    report.total = sum(ledger.counts(conn, key)[s] for s in ("pending",))
    capacity = max(8, transport.connections * 8)
    jobs: queue.Queue[Claimed | None] = queue.Queue()
    results: queue.Queue[Outcome] = queue.Queue()
    fatal = threading.Event()
    errors: list[Exception] = []
    alive = _Alive(transport.connections)
    workers = [
        _Worker(transport=transport, template=template, signer=signer, state=state, jobs=jobs,
                results=results, stop=stop, fatal=fatal, errors=errors, alive=alive)
        for _ in range(transport.connections)
    ]  # fmt: skip
    for w in workers:
        w.start()
    in_flight = 0
    done = 0

    def record(outcomes: list[Outcome]) -> None:
        nonlocal done
        if not outcomes:
            return
        ledger.record_outcomes(conn, key, outcomes, path=state)
        for o in outcomes:
            if o.status in report.counts:
                report.counts[o.status] += 1
            if o.status != "pending":
                done += 1
        if progress is not None:
            progress(done, report.total)

    try:
        exhausted = False
        while not (stop.is_set() or fatal.is_set()):
            if not exhausted and in_flight <= capacity // 2:
                claimed, skipped = ledger.claim(conn, key, capacity - in_flight, path=state)
                record(skipped)
                exhausted = not claimed and not skipped
                for job in claimed:
                    jobs.put(job)
                in_flight += len(claimed)
            if in_flight == 0:
                if exhausted:
                    break
                continue
            outcomes = _drain(results, wait=0.2)
            in_flight -= len(outcomes)
            record(outcomes)
    finally:
        # Claimed rows no worker has started go straight back to pending.
        released: list[Outcome] = []
        while True:
            try:
                unstarted = jobs.get_nowait()
            except queue.Empty:
                break
            if unstarted is not None:
                released.append(Outcome(unstarted.subscriber_id, "pending", ""))
        in_flight -= len(released)
        for _ in workers:
            jobs.put(None)
        for w in workers:
            w.join()
        remaining = _drain(results, wait=0)
        record(released + remaining)
    report.elapsed = time.monotonic() - started
    report.stopped = stop.is_set()
    if errors:
        if not isinstance(errors[0], DigestError):
            raise errors[0]
        report.error = errors[0]
    return report


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
