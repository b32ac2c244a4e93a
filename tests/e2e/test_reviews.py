"""Results reviews end to end: signed /ready commands and clicks, a real MLflow server, the outbox,
the fake Slack and the calendar feed over HTTP. The bot's clock is moved by the test (it never
sleeps); MLflow timestamps are set to match it.

The day: 2026-11-23, a review at 14:00 UTC about two runs. One is finished; the other is at step
1200 of 3700 at 12:00 after starting at 10:00, so its ETA is 16:10.
"""

from __future__ import annotations

import re
import threading
import uuid
from datetime import datetime

import pytest
import requests
from sqlalchemy import select

from bot.jobs.reviews import check_reviews
from bot.services import build_services
from bot.store.models import Review, ReviewEvent, Target
from tests.conftest import make_settings, quick_trackers
from tests.e2e.review_support import CHANNEL, at, buttons, headed, ms, text_of

pytestmark = pytest.mark.mlflow


@pytest.fixture
def day(bot, mlflow_server, mlflow_logger):
    """Connected to MLflow at 10:00 with a finished run and a slow one; returns their ids."""
    bot.clock.now = at(10)
    assert "Connected" in bot.reply(f"connect mlflow {mlflow_server}")
    exp = mlflow_logger.create_experiment(f"review-{uuid.uuid4().hex[:8]}")
    done = mlflow_logger.create_run(exp, start_ms=ms(at(8)), name="quick-run")
    mlflow_logger.log_metrics(done, [("val_acc", 0.91, 500, ms(at(8, 50))), ("loss", 0.2, 500, ms(at(8, 50)))])
    mlflow_logger.end_run(done, "FINISHED", ms(at(8, 50)))
    slow = mlflow_logger.create_run(exp, start_ms=ms(at(10)), name="slow-run", params={"max_steps": 3700})
    mlflow_logger.log_metrics(slow, [("val_acc", 0.5, 10, ms(at(10))), ("loss", 0.9, 10, ms(at(10)))])
    return bot, mlflow_logger, done, slow


def schedule(bot, done: str, slow: str, user: str = "U1", when: str = "14:00") -> int:
    reply = bot.reply(f'review "Ablation results" at {when} runs mlflow:{done},mlflow:{slow}', user_id=user)
    found = re.search(r"Scheduled review #(\d+)", reply)
    assert found, reply
    return int(found[1])


def at_noon(bot, logger, slow: str) -> None:
    """12:00: the slow run reports step 1200, the poller sees it, the readiness job runs."""
    bot.clock.now = at(12)
    logger.log_metrics(slow, [("val_acc", 0.7, 1200, ms(at(12))), ("loss", 0.5, 1200, ms(at(12)))])
    bot.poll()
    check_reviews(bot.services)
    bot.deliver()


def finish(bot, logger, slow: str, when: datetime) -> None:
    logger.log_metrics(slow, [("val_acc", 0.95, 3700, ms(when)), ("loss", 0.1, 3700, ms(when))])
    logger.end_run(slow, "FINISHED", ms(when))
    bot.clock.now = when
    bot.cycle()


def review(bot, review_id: int) -> Review:
    with bot.services.store.tx() as s:
        return s.get(Review, review_id)


def events(bot, review_id: int) -> list[tuple[str, str, str]]:
    with bot.services.store.tx() as s:
        rows = s.scalars(select(ReviewEvent).where(ReviewEvent.review_id == review_id).order_by(ReviewEvent.id))
        return [(e.from_state, e.to_state, e.actor) for e in rows]


def feed(bot) -> str:
    url = re.search(r"/calendar/([A-Za-z0-9_-]+)\.ics", bot.reply("reviews"))
    resp = requests.get(f"{bot.server.url}/calendar/{url[1]}.ics", timeout=5)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/calendar")
    return resp.text.replace("\r\n ", "")  # unfolded


def said(bot, text: str) -> bool:
    """An ephemeral answer to a click arrives after the click's ack: wait for it, never sleep."""
    return bool(bot.fake.wait_for(lambda: any(text in e["text"] for e in bot.fake.ephemerals(CHANNEL))))


def click(bot, message: dict, label: str, user: str = "U1") -> None:
    action = {"Postpone to ETA": "review_postpone", "Meet as planned": "review_hold", "Cancel review": "review_cancel"}
    resp = bot.slack.block_action(action[label], buttons(message)[label]["value"], user_id=user, channel_id=CHANNEL,
                                  message_ts=message["ts"])
    assert resp.status_code == 200


def test_not_ready_warning_postpone_to_eta_and_results(day):
    bot, logger, done, slow = day
    # Bob types 15:00 in Berlin (UTC+1 in November): the review is at 14:00 UTC.
    bot.fake.add_user("U2", "bob", tz="Europe/Berlin")
    # Alice (U1) clicks Postpone on Bob's review: she may, as a workspace admin (issue 12).
    bot.fake.add_user("U1", "alice", real_name="Alice Example", is_admin=True)
    review_id = schedule(bot, done, slow, user="U2", when="15:00")
    with bot.services.store.tx() as s:
        s.add(Target(team_id="T0SANDBOX", channel_id=CHANNEL, metric="val_acc", op=">=", threshold=0.9,
                     created_at=at(10)))
    bot.deliver()
    assert review(bot, review_id).at == at(14)

    at_noon(bot, logger, slow)
    warnings = headed(bot, "Not ready")
    assert len(warnings) == 1
    body = text_of(warnings[0])
    assert "slow-run" in body and "16:10" in body and "quick-run" not in body
    assert set(buttons(warnings[0])) == {"Postpone to ETA", "Meet as planned", "Cancel review"}
    for _ in range(3):  # every replica, every minute: still one warning for this checkpoint
        check_reviews(bot.services)
        bot.deliver()
    assert len(headed(bot, "Not ready")) == 1

    click(bot, warnings[0], "Postpone to ETA")
    click(bot, warnings[0], "Postpone to ETA")  # a double click moves it once
    # A date token for 16:40 UTC, so the clicker reads it in their own time zone.
    assert said(bot, f"already postponed to <!date^{int(at(16, 40).timestamp())}^")
    moved = review(bot, review_id)
    assert (moved.at, moved.state, moved.sequence) == (at(16, 40), "postponed", 1)
    calendar = feed(bot)
    assert "DTSTART:20261123T164000Z" in calendar and "SEQUENCE:1" in calendar
    bot.deliver()
    edited = headed(bot, "Not ready")[0]
    assert not buttons(edited) and "postponed the review" in text_of(edited)

    finish(bot, logger, slow, at(16, 5))
    check_reviews(bot.services)
    bot.deliver()
    results = headed(bot, "Results ready")
    assert len(results) == 1
    table = text_of(results[0])
    assert "slow-run" in table and "quick-run" in table
    assert "0.95 ✓" in table and "0.91 ✓" in table and "val_acc >= 0.9" in table
    assert review(bot, review_id).state == "ready"
    assert events(bot, review_id) == [
        ("new", "scheduled", "U2"), ("scheduled", "waiting", "readybot"), ("waiting", "postponed", "U1"),
        ("postponed", "ready", "readybot"),
    ]
    bot.clock.now = at(16, 41)
    check_reviews(bot.services)
    assert review(bot, review_id).state == "done"
    assert len(headed(bot, "Results ready")) == 1 and len(headed(bot, "Not ready")) == 1


def test_cancel_from_the_warning_stops_the_review_and_the_feed_says_cancelled(day):
    bot, logger, done, slow = day
    review_id = schedule(bot, done, slow)
    at_noon(bot, logger, slow)
    [warning] = headed(bot, "Not ready")

    click(bot, warning, "Cancel review")
    cancelled = review(bot, review_id)
    assert (cancelled.state, cancelled.sequence, cancelled.at) == ("cancelled", 1, at(14))
    calendar = feed(bot)
    assert "STATUS:CANCELLED" in calendar and "SEQUENCE:1" in calendar
    assert "No upcoming reviews" in bot.reply("reviews")

    bot.clock.now = at(13, 45)  # the final call finds nothing to say
    check_reviews(bot.services)
    bot.deliver()
    assert len(headed(bot, "Not ready")) == 1 and "cancelled the review" in text_of(headed(bot, "Not ready")[0])
    click(bot, warning, "Meet as planned")  # a stale button: refused, nothing changes
    assert said(bot, "already cancelled")
    assert "already cancelled" in bot.reply(f"review cancel {review_id}")
    finish(bot, logger, slow, at(13, 50))
    assert headed(bot, "Results ready") == []
    assert events(bot, review_id)[-1] == ("waiting", "cancelled", "U1")


def test_cancel_command_is_public_and_checks_the_channel(day):
    bot, _logger, done, slow = day
    review_id = schedule(bot, done, slow)
    assert "no review #" in bot.reply(f"review cancel {review_id}", channel_id="C2").lower()
    assert "cancelled review" in bot.reply(f"review cancel {review_id}")
    assert review(bot, review_id).state == "cancelled"


def test_hold_anyway_keeps_the_time_and_silences_the_final_call(day):
    bot, logger, done, slow = day
    review_id = schedule(bot, done, slow)
    at_noon(bot, logger, slow)
    [warning] = headed(bot, "Not ready")

    click(bot, warning, "Meet as planned", user="U1")
    held = review(bot, review_id)
    assert (held.state, held.at, held.sequence) == ("held", at(14), 0)
    bot.clock.now = at(13, 45)
    check_reviews(bot.services)
    bot.deliver()
    assert len(headed(bot, "Not ready")) == 1
    assert "chose to meet as planned" in text_of(headed(bot, "Not ready")[0])

    finish(bot, logger, slow, at(13, 50))  # the results still arrive before the meeting
    assert len(headed(bot, "Results ready")) == 1
    assert [e[1:] for e in events(bot, review_id)][-2:] == [("held", "U1"), ("ready", "readybot")]


def test_automatic_policy_from_the_form_postpones_to_eta_plus_buffer(day):
    bot, logger, done, slow = day
    assert bot.command("review").status_code == 200
    bot.fake.wait_for(lambda: any(m["callback_id"] == "review_modal" for m in bot.fake.modals()))
    resp = bot.slack.view_submission("review_modal", {
        "title": {"value": "Ablation results"},
        "when": {"value": "14:00"},
        "runs": {"value": f"mlflow:{done}, mlflow:{slow}"},
        "lead": {"value": "2h"},
        "policy": {"value": {"type": "static_select", "selected_option": {"value": "auto_postpone"}}},
        "baseline": {"value": f"mlflow:{done}"},
    })
    assert resp.status_code == 200 and not resp.text.strip()
    bot.fake.wait_for(lambda: any("Scheduled review" in e["text"] for e in bot.fake.ephemerals(CHANNEL)))
    review_id = int(re.search(r"#(\d+)", bot.fake.ephemerals(CHANNEL)[-1]["text"])[1])

    at_noon(bot, logger, slow)
    assert headed(bot, "Not ready") == []
    [notice] = headed(bot, "Review postponed")
    assert "16:40" in text_of(notice) and set(buttons(notice)) == {"Cancel review"}
    moved = review(bot, review_id)
    assert (moved.at, moved.state, moved.sequence, moved.policy) == (at(16, 40), "postponed", 1, "auto_postpone")
    assert "DTSTART:20261123T164000Z" in feed(bot)
    assert events(bot, review_id)[-1] == ("scheduled", "postponed", "readybot")

    for hh, mm in ((12, 1), (14, 0), (14, 40)):  # the old checkpoints are gone; the new lead is 14:40
        bot.clock.now = at(hh, mm)
        check_reviews(bot.services)
    bot.deliver()
    assert len(headed(bot, "Review postponed")) == 1
    assert len(headed(bot, "Not ready")) == 1  # 14:40: still not done, ETA 16:10 is in time now
    finish(bot, logger, slow, at(16, 5))
    [results] = headed(bot, "Results ready")
    assert "baseline: quick-run" in text_of(results) and "(+0.04)" in text_of(results)


def test_a_past_time_is_refused_in_the_users_zone_asked_once(day):
    bot, _logger, done, slow = day
    bot.fake.add_user("U2", "bob", tz="Europe/Berlin")
    for _ in range(2):
        reply = bot.reply(f'review "Late" at 10:30 runs mlflow:{done},mlflow:{slow}', user_id="U2")
        assert "10:30 (Europe/Berlin) has already passed" in reply and "Usage" in reply  # 11:00 there
    assert len(bot.fake.calls("users.info")) == 1  # cached in UserProfile for a day


def test_replicas_racing_on_one_checkpoint_post_one_warning(day):
    bot, logger, done, slow = day
    review_id = schedule(bot, done, slow)
    bot.clock.now = at(12)
    logger.log_metrics(slow, [("val_acc", 0.7, 1200, ms(at(12)))])
    bot.poll()
    settings = make_settings(bot.fake, bot.services.store.url)
    replicas = [build_services(settings, clock=bot.clock, trackers=quick_trackers)
                for _ in range(3)]
    threads = [threading.Thread(target=check_reviews, args=(r,)) for r in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for replica in replicas:
        replica.store.dispose()
    bot.deliver()
    assert len(headed(bot, "Not ready")) == 1
    assert [e[1] for e in events(bot, review_id)].count("waiting") == 1
