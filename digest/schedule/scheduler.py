"""``digest schedule`` and ``digest next``: APScheduler 3.x in the foreground, on the tick.

``run_scheduler`` holds the runner lock, runs the tick (``digest.runner``) once at start-up —
the catch-up — and then at every firing of ``schedule.cron``, until SIGTERM or SIGINT.

On a PostgreSQL state two (or more) ``digest schedule`` processes may run, on different hosts:
one leads (``state.locks.leadership``, an advisory lock its own server session holds) and the
others stand by, asking again every ``STANDBY_POLL`` seconds. When the leader dies its session
ends and the lock with it, so a standby leads within ``STANDBY_POLL`` seconds of that (on the
same host at once after a ``kill -9``; a vanished host's session ends within the keepalive
bound of ``state.pg``). The new leader's start-up tick resumes the issue from the ledger, so the
week is still sent once. The leader checks its session every ``STANDBY_POLL`` seconds too and
stops, with one line, if it has lost it — a standby has taken over by then.

APScheduler's own traps are sidestepped rather than trusted: no persistent job store (the
ledger is the memory, so ``replace_existing`` can't lose a missed run), ``misfire_grace_time``
set to the grace instead of the 1 s default, ``coalesce`` and one instance at a time. A run
that crashes mid-issue is not retried by APScheduler (it counts as run once handed off) —
the next tick resumes it from the ledger instead.

DST: the trigger fires on the newsletter's local wall-clock time; see ``digest.cron`` and
docs/scheduling.md. The ledger keys make any repeated firing harmless.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from digest.config import Config
from digest.deliver import Transport
from digest.errors import DigestError
from digest.models import Period, Problem, plural
from digest.period import current_period
from digest.pipeline.approval import issue_stage
from digest.pipeline.issue import look_at_issue
from digest.schedule.cron import build_trigger, local_time, next_fire, relative
from digest.schedule.tick import log_line, record_missed, tick
from digest.select import Selected
from digest.state import db, locks
from digest.state.locks import DEFAULT_WAIT, STANDBY_POLL, runner_lock

log = logging.getLogger("digest.schedule")

Clock = Callable[[], datetime]

#: The first retry after a run that left work undone, then doubling up to ``RETRY_MAX``.
RETRY_FIRST = timedelta(minutes=10)
RETRY_MAX = timedelta(hours=6)


def utc_now() -> datetime:
    return datetime.now(UTC)


def describe_next(config: Config, plan: NextRun, *, now: datetime) -> str:
    """``Next run: Mon 30 Nov 2026 08:00 GMT (in 4 days, 11 hours), issue 2026-W49.``"""
    wait = plan.fire.astimezone(UTC) - now.astimezone(UTC)  # real time, across a DST change
    text = (
        f"Next run: {local_time(config, plan.fire)} (in {relative(wait)}), issue {plan.period.key}."
    )
    if plan.existing == "sending":
        text += " That issue is already being sent; the run will finish it."
    elif plan.existing:
        text += f" That issue is already recorded ({plan.existing}); the run will send nothing."
    elif config.schedule.approval == "required":
        # With approval, the send carries what was approved, or holds: say where it stands.
        text += f" {issue_stage(config, plan.period.key).line}. A fresh render would carry "
        text += f"{plural(len(plan.selected.reviews), 'review')}:"
    else:
        text += f" If it ran now it would carry {plural(len(plan.selected.reviews), 'review')}:"
    return text


@dataclass(frozen=True, slots=True)
class NextRun:
    """When the scheduler runs next, and what it would send if it ran now."""

    fire: datetime
    period: Period
    existing: str | None  # status of an issue already recorded for that period
    selected: Selected
    problems: tuple[Problem, ...]


def plan_next(
    config: Config, *, now: datetime, client: httpx.Client | None = None
) -> NextRun | None:
    """Collect and select as the next run would, without writing the ledger or sending."""
    fire = next_fire(build_trigger(config), now)
    if fire is None:
        return None
    found = look_at_issue(
        config, now=now, period=current_period(config, fire), client=client, render=False
    )
    assert found.selected is not None and found.collection is not None  # never "stored" here
    return NextRun(
        fire=fire,
        period=found.period,
        existing=found.stored.status if found.stored else None,
        selected=found.selected,
        problems=found.collection.problems,
    )


# ---------------------------------------------------------------------------------------------
# The foreground scheduler (``digest schedule``)
# ---------------------------------------------------------------------------------------------


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event that SIGTERM or SIGINT sets (finish the message in flight, then stop); the
    previous handlers come back when the block ends. Call from the main thread."""
    stop = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        log.info("%s: finishing the message in flight, then stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_scheduler(
    config: Config,
    *,
    stop: threading.Event,
    clock: Clock = utc_now,
    lock_wait: float = DEFAULT_WAIT,
    transport: Transport | None = None,
    retry_first: timedelta = RETRY_FIRST,
) -> None:
    """Hold the runner lock, catch up, then run on schedule until ``stop`` is set.

    On stop, a run in progress finishes the message in flight, records it and returns; then
    the scheduler shuts down and this returns normally.
    """
    with _lead(config, stop, lock_wait) as check:
        if stop.is_set():
            log.info("scheduler stopped")
            return
        db.open_for(config).close()  # fail fast, naming the file, if the state is unusable
        foreground = _Foreground(config, stop, clock, transport, retry_first)
        foreground.scheduler.start()
        upcoming = next_fire(foreground.trigger, clock())
        log.info(
            "scheduler started: cron=%r second=%r timezone=%s grace=%s next=%r",
            config.schedule.cron,
            config.schedule.second,
            config.newsletter.timezone,
            config.schedule.grace,
            local_time(config, upcoming) if upcoming else "never",
        )
        try:
            checked = time.monotonic()
            while not stop.wait(0.5):
                if check is not None and time.monotonic() - checked >= STANDBY_POLL:
                    check()  # lost the leadership: stop here (a standby has taken over)
                    checked = time.monotonic()
        finally:
            # wait=True: a run in flight sees ``stop``, finishes its message and returns.
            foreground.scheduler.shutdown(wait=True)
        log.info("scheduler stopped")


@contextmanager
def _lead(
    config: Config, stop: threading.Event, lock_wait: float
) -> Iterator[Callable[[], None] | None]:
    """The runner lock on SQLite; on PostgreSQL the leadership, standing by until it is free
    (or ``stop`` is set). Yields the leader's session check, if there is one."""
    if not db.is_postgres(config.state):
        with runner_lock(config, wait=lock_wait):
            yield None
        return

    def waiting() -> None:
        log.info(
            "standby: another digest schedule leads on %s; asking again every %gs",
            config.state, STANDBY_POLL,
        )  # fmt: skip

    with locks.leadership(config, stop=stop, waiting=waiting) as held:
        if held is not None:
            log.info("leading: this digest schedule holds the leadership on %s", config.state)
        yield held.check if held is not None else None


class _Foreground:
    """The APScheduler set-up of ``digest schedule``: one job on the trigger (run at once for
    the start-up catch-up), a retry job with back-off, and a listener for missed firings."""

    def __init__(
        self,
        config: Config,
        stop: threading.Event,
        clock: Clock,
        transport: Transport | None,
        retry_first: timedelta,
    ):
        self.config, self.stop, self.clock = config, stop, clock
        self.transport, self.retry_first = transport, retry_first
        self.trigger = build_trigger(config)
        self.failures = 0
        self.scheduler = BackgroundScheduler(
            timezone=config.newsletter.tz,
            executors={"default": ThreadPoolExecutor(max_workers=1)},
        )
        self.scheduler.add_listener(self.missed, EVENT_JOB_MISSED)
        schedule = config.schedule
        if schedule.approval == "required" and schedule.prepare is not None:
            # The same tick on the prepare cron: it proofs the next issue (start-up covers both).
            self.scheduler.add_job(
                self.job,
                build_trigger(config, cron=schedule.prepare),
                id="prepare",
                name="prepare",
                misfire_grace_time=max(1, int(schedule.grace_period.total_seconds())),
                coalesce=True,
                max_instances=1,
            )
        self.scheduler.add_job(
            self.job,
            self.trigger,
            id="digest",
            name="digest",
            # Start-up catch-up: run the tick at once, then on the trigger.
            next_run_time=clock(),
            misfire_grace_time=max(1, int(config.schedule.grace_period.total_seconds())),
            coalesce=True,
            max_instances=1,
        )

    def job(self) -> None:
        retry = True
        try:
            report = tick(
                self.config, now=self.clock(), trigger=self.trigger, transport=self.transport,
                stop=self.stop,
            )  # fmt: skip
            retry = report.retry_soon
        except DigestError as e:
            log_line(trigger="schedule", outcome="error", error=str(e))
        except Exception:
            # A bug must not stop next week's run; it is logged in full.
            log.exception("run failed with an unexpected error")
        self.failures = self.failures + 1 if retry else 0
        if retry and not self.stop.is_set():
            self._retry_later()

    def _retry_later(self) -> None:
        """Deferred copies, a mail server or every source down: try again soon rather than
        next week, backing off (10 min, 20, 40 … at most 6 h)."""
        delay = min(self.retry_first * 2 ** (self.failures - 1), RETRY_MAX)
        self.scheduler.add_job(
            self.job,
            "date",
            run_date=self.clock() + delay,
            id="retry",
            replace_existing=True,
            misfire_grace_time=None,  # late is fine: it waits for a run in progress
        )
        log.info("trying again at %s", local_time(self.config, self.clock() + delay))

    def missed(self, event: JobExecutionEvent) -> None:
        """The process was blocked or asleep past the grace: say so in the ledger at once."""
        try:
            record_missed(self.config, now=self.clock(), trigger=self.trigger)
        except DigestError as e:
            log_line(trigger="schedule", outcome="error", error=str(e))
