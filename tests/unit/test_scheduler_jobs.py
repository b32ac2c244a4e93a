"""The scheduler's jobs are the literal list in bot/jobs/scheduler.py: the same in a test as in
production, with the calendar sync only when a Google service account is configured."""

from __future__ import annotations

from bot.jobs.scheduler import build_scheduler
from bot.services import build_services
from tests.conftest import make_settings

EVERY_BOT = {"poll", "dispatch", "cleanup", "reviews", "standups", "digests"}


def job_ids(store, fake_slack, clock, **settings) -> set[str]:  # noqa: ANN001, ANN003
    services = build_services(make_settings(fake_slack, store.url, **settings), store=store, clock=clock)
    return {job.id for job in build_scheduler(services).get_jobs()}


def test_a_bot_without_a_google_account_runs_every_job_but_the_calendar_sync(store, fake_slack, clock):
    assert job_ids(store, fake_slack, clock) == EVERY_BOT


def test_a_google_account_adds_the_calendar_sync(store, fake_slack, clock, tmp_path):
    account = tmp_path / "service-account.json"
    account.write_text("{}")
    ids = job_ids(store, fake_slack, clock, google_credentials_file=str(account), google_calendar_id="team@example.com")
    assert ids == EVERY_BOT | {"calendar-sync"}
