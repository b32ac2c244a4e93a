"""APScheduler wiring. The job store is in memory and jobs are declared here with fixed ids:
a shared persistent job store double-fires across processes (APScheduler 3 FAQ), so all
durable state lives in our own tables and each job is safe to run on every replica."""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from bot.jobs import lease
from bot.jobs.poll import poll_once
from bot.notify.dispatch import Dispatcher
from bot.services import Services
from bot.store.dedupe import forget_old

log = logging.getLogger(__name__)
HOLDER = f"{socket.gethostname()}:{os.getpid()}"
QUICK_JOBS = frozenset({"reviews", "standups", "digests"})  # run as often as the poll when it is quicker


def build_scheduler(services: Services) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    dispatcher = Dispatcher(services.store, services.clients, services.clock)
    every = services.settings.poll_seconds
    scheduler.add_job(
        lambda: guarded(services, "poll", timedelta(seconds=every * 3), poll_once),
        "interval", seconds=every, id="poll", replace_existing=True,
        max_instances=1, coalesce=True, misfire_grace_time=every,
    )
    scheduler.add_job(
        lambda: safely("dispatch", dispatcher.drain),
        "interval", seconds=2, id="dispatch", replace_existing=True,
        max_instances=1, coalesce=True, misfire_grace_time=10,
    )
    scheduler.add_job(
        lambda: safely("cleanup", forget_old, services),
        "interval", hours=1, id="cleanup", replace_existing=True, coalesce=True, misfire_grace_time=3600,
    )
    for job_id, fn, seconds in services.extras.get("jobs", ()):
        # A short poll interval asks for a quick bot: the review, standup and digest checks
        # (cheap database reads) keep up with it, so a warning is not up to a minute late.
        if job_id in QUICK_JOBS:
            seconds = min(seconds, every)
        scheduler.add_job(
            lambda fn=fn, job_id=job_id: safely(job_id, fn, services),
            "interval", seconds=seconds, id=job_id, replace_existing=True,
            max_instances=1, coalesce=True, misfire_grace_time=seconds,
        )
    return scheduler


def guarded(services: Services, name: str, ttl: timedelta, fn) -> None:  # noqa: ANN001
    if lease.acquire(services.store, name, HOLDER, services.clock(), ttl):
        safely(name, fn, services)


def safely(name: str, fn, *args) -> None:  # noqa: ANN001, ANN002
    try:
        fn(*args)
    except Exception:
        # A job that raises would be logged by APScheduler anyway; this keeps the context.
        log.exception("job %s failed", name)
