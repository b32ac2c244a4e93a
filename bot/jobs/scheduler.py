"""APScheduler wiring. The job store is in memory and every job is in the literal list below,
with a fixed id: a shared persistent job store double-fires across processes (APScheduler 3
FAQ), so all durable state lives in our own tables and each job is safe to run on every replica."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN, EVENT_SCHEDULER_STARTED
from apscheduler.schedulers.background import BackgroundScheduler

from bot.jobs import calendar_sync, digests, lease, reviews, standups
from bot.jobs.poll import poll_once
from bot.notify.dispatch import SENDERS, Dispatcher, DispatchLoop
from bot.services import Services
from bot.store.dedupe import forget_old

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    id: str
    run: Callable[[], object]
    seconds: float
    grace: float | None = None  # how late a missed run may still start; default: one interval
    lease: timedelta | None = None  # one replica at a time: it holds this lease while it runs
    instances: int = 1  # how many runs of the job may overlap in one process


def jobs(services: Services, dispatcher: DispatchLoop) -> list[Job]:
    every = services.settings.poll_seconds
    # A short poll interval asks for a quick bot: the review, standup and digest checks
    # (cheap database reads) keep up with it, so a warning is not up to a minute late.
    listed = [
        # No lease: every replica polls, each connection claimed by one at a time and due once per
        # interval (bot/jobs/claims.py). The tick is a fraction of the interval, so a connection
        # is polled within a quarter interval of its due time; a second run may overlap one held
        # up by a slow tracker, so the other connections' polls are not held up with it.
        Job("poll", lambda: poll_once(services, due_only=True), poll_tick(every), instances=2),
        # Delivery runs on its own thread, woken by each queued row; the tick is the safety net.
        Job("dispatch", dispatcher.wake, 2, grace=10),
        Job("cleanup", lambda: forget_old(services), 3600),
        Job("reviews", lambda: reviews.check_reviews(services), min(reviews.EVERY_SECONDS, every)),
        Job("calendar-sync", lambda: calendar_sync.sync_calendar(services), reviews.EVERY_SECONDS),
        Job("standups", lambda: standups.standup_tick(services), min(standups.JOB_SECONDS, every)),
        Job("digests", lambda: digests.digest_tick(services), min(digests.JOB_SECONDS, every)),
    ]
    if not services.settings.google_credentials_file:  # no Google account: nothing to sync
        listed = [job for job in listed if job.id != "calendar-sync"]
    return listed


def poll_tick(every: int) -> int:
    return max(1, every // 4)


def build_scheduler(services: Services) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    dispatcher = DispatchLoop(Dispatcher(services.store, services.clients, services.clock, senders=SENDERS))
    # The delivery thread lives as long as the scheduler runs.
    scheduler.add_listener(
        lambda event: dispatcher.start() if event.code == EVENT_SCHEDULER_STARTED else dispatcher.stop(),
        EVENT_SCHEDULER_STARTED | EVENT_SCHEDULER_SHUTDOWN,
    )
    for job in jobs(services, dispatcher):
        scheduler.add_job(
            lambda job=job: run_job(services, job),
            "interval", seconds=job.seconds, id=job.id, replace_existing=True,
            max_instances=job.instances, coalesce=True, misfire_grace_time=job.grace or job.seconds,
        )
    return scheduler


def stop_scheduler(services: Services, scheduler: BackgroundScheduler) -> None:
    """Stop this process's jobs and give back every lease it holds (calendar sync, any leased
    job), so the next replica takes over on its next tick, not after the lease's TTL."""
    if scheduler.running:
        scheduler.shutdown(wait=False)
        lease.release_all(services.store)


def run_job(services: Services, job: Job) -> None:
    if job.lease is None or lease.acquire(services.store, job.id, lease.HOLDER, services.clock(), job.lease):
        safely(job.id, job.run)


def safely(name: str, fn, *args) -> None:  # noqa: ANN001, ANN002
    try:
        fn(*args)
    except Exception:
        # A job that raises would be logged by APScheduler anyway; this keeps the context.
        log.exception("job %s failed", name)
