"""Results reviews from the edges a user reaches first: runs that are already done, a meeting
already inside its lead time, and a Slack that will not tell the user's time zone. Runs arrive
through the push API (no tracker server needed); the readiness job is never run here, so what
the channel sees comes from the command itself."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime

import pytest
import requests

from bot.store.models import Review

CHANNEL = "C1"


def at(hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 11, 23, hh, mm, tzinfo=UTC)


def pushed(bot, runs: dict[str, dict]) -> None:
    token = re.search(r"`(rbp_[^`]+)`", bot.reply("connect push as trainer"))[1]
    for ref, body in runs.items():
        resp = requests.post(f"{bot.server.url}/api/v1/runs/{ref}", json=body, timeout=5,
                             headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.text


def headed(bot, prefix: str) -> list[str]:
    texts = [html.unescape(m.get("text") or "") for m in bot.fake.messages(CHANNEL)]
    return [t for t in texts if t.startswith(prefix)]


def test_finished_runs_get_results_ready_and_a_late_review_its_warning_at_once(bot):
    bot.clock.now = at(10)
    pushed(bot, {
        "done-1": {"state": "finished", "step": 100, "total_steps": 100, "metrics": {"val_acc": 0.93}},
        "slow-1": {"state": "running", "step": 10, "total_steps": 1000, "metrics": {"val_acc": 0.5},
                   "started_at": at(9, 50).isoformat()},
    })
    reply = html.unescape(bot.reply('review "Done already" at 16:00 runs trainer:done-1,trainer:done-1'))
    assert "Scheduled review #1 *Done already* for Mon 23 Nov 2026 16:00 (UTC)" in reply
    bot.deliver()
    [results] = headed(bot, "Results ready")  # no waiting for the readiness job's next tick
    assert "Done already" in results

    bot.reply('review "Soon" at 10:30 runs trainer:slow-1')  # already inside its 2 h lead time
    bot.deliver()
    assert len(headed(bot, "Not ready: Soon")) == 1
    assert len(headed(bot, "Results ready")) == 1


def test_a_slack_that_will_not_tell_the_zone_reads_utc_and_says_so(bot):
    bot.clock.now = at(10)
    pushed(bot, {"done-1": {"state": "finished", "step": 1, "total_steps": 1}})
    bot.fake.add_user("U7", "kiri", tz="Pacific/Auckland")
    bot.fake.fail_next("users.info", "fatal_error")
    reply = html.unescape(bot.reply('review "R" at 14:00 runs trainer:done-1', user_id="U7"))
    assert "for Mon 23 Nov 2026 14:00 (UTC)" in reply and "read the time as UTC" in reply
    with bot.services.store.tx() as s:
        assert s.get(Review, 1).at == at(14)
    # Once Slack answers, the user's own zone is used (and the time is in it).
    reply = html.unescape(bot.reply('review "R2" at tomorrow 09:00 runs trainer:done-1', user_id="U7"))
    assert "for Tue 24 Nov 2026 09:00 (Pacific/Auckland)" in reply and "UTC" not in reply


def test_postpone_on_a_cancelled_review_says_it_is_cancelled(bot):
    bot.clock.now = at(10)
    pushed(bot, {"slow-1": {"state": "running", "step": 10, "total_steps": 1000}})
    bot.reply('review "Soon" at 10:30 runs trainer:slow-1')
    bot.deliver()
    [warning] = [m for m in bot.fake.messages(CHANNEL) if (m.get("text") or "").startswith("Not ready")]
    assert "cancelled review #1" in bot.reply("review cancel 1")
    for action in ("review_postpone", "review_hold", "review_cancel"):
        resp = bot.slack.block_action(action, "1", channel_id=CHANNEL, message_ts=warning["ts"])
        assert resp.status_code == 200
    said = bot.fake.wait_for(lambda: len(bot.fake.ephemerals(CHANNEL)) >= 3 and bot.fake.ephemerals(CHANNEL))
    assert [e["text"] for e in said] == [":warning: Review #1 is already cancelled; nothing changed."] * 3


def test_a_run_pushed_once_already_has_the_eta_the_warning_offers_to_postpone_to(bot):
    bot.clock.now = at(12)
    # One report: started at 10:00, step 1200 of 3700 at 12:00, so the ETA is 16:10.
    pushed(bot, {"slow-1": {"state": "running", "step": 1200, "total_steps": 3700,
                            "started_at": at(10).isoformat()}})
    bot.reply('review "Soon" at 13:00 runs trainer:slow-1')
    bot.deliver()
    [warning] = [m for m in bot.fake.messages(CHANNEL) if (m.get("text") or "").startswith("Not ready")]
    shown = html.unescape(str(warning["blocks"]))
    assert "2026-11-23 16:10 UTC" in shown and "ETA unknown" not in shown
    labels = [e["text"]["text"] for b in warning["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert labels == ["Postpone to ETA", "Meet as planned", "Cancel review"]


def test_a_short_lead_is_honoured_the_check_comes_at_the_lead_not_15_minutes_before(bot):
    from bot.jobs.reviews import check_reviews

    bot.clock.now = at(10)
    pushed(bot, {"slow-1": {"state": "running", "step": 10, "total_steps": 1000}})
    reply = html.unescape(bot.reply('review "Quick" at 10:10 runs trainer:slow-1 lead 5m'))
    assert "Scheduled review #1" in reply
    bot.deliver()
    assert "checks 5m before that the runs are done" in html.unescape(str(bot.fake.messages(CHANNEL)[-1]))
    for minute in (1, 4):
        bot.clock.now = at(10, minute)
        check_reviews(bot.services)
        bot.deliver()
        assert headed(bot, "Not ready") == []
    bot.clock.now = at(10, 5)
    check_reviews(bot.services)
    bot.deliver()
    assert len(headed(bot, "Not ready: Quick")) == 1


@pytest.mark.mlflow
def test_a_review_naming_an_unknown_run_tracks_none_of_its_runs(bot, mlflow_server, mlflow_logger):
    bot.clock.now = at(10)
    assert "Connected" in bot.reply(f"connect mlflow {mlflow_server}")
    exp = mlflow_logger.create_experiment(f"edges-{uuid.uuid4().hex[:8]}")
    real = mlflow_logger.create_run(exp, start_ms=int(at(9).timestamp() * 1000), name="real-run")
    reply = html.unescape(bot.reply(f'review "R" at 14:00 runs mlflow:{real},mlflow:{"0" * 32}'))
    assert "has no run" in reply and "Nothing was tracked" in reply
    assert "real-run" not in html.unescape(bot.reply("runs"))
    assert "No upcoming reviews" in bot.reply("reviews")


def test_a_short_poll_interval_makes_the_review_standup_and_digest_checks_as_quick(store, fake_slack, clock):
    from datetime import timedelta

    from bot.jobs.scheduler import build_scheduler
    from bot.services import build_services
    from tests.conftest import make_settings

    services = build_services(make_settings(fake_slack, store.url, poll_seconds=2), store=store, clock=clock)
    scheduler = build_scheduler(services)
    for job in ("reviews", "standups", "digests"):
        assert scheduler.get_job(job).trigger.interval == timedelta(seconds=2)
