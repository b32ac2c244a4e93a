"""A results review about an experiment, over signed requests: it waits on the experiment's runs
that are active when it is scheduled, says which, and refuses an experiment with none.

Pushed runs need no tracker server; the same through a real MLflow server is marked `mlflow`.
"""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import func, select

from bot.store import reviews as rq
from bot.store.models import Review, Watch

CHANNEL = "C1"


def connect_push(bot) -> str:
    return re.search(r"`(rbp_[^`]+)`", bot.reply("connect push as trainer"))[1]


def push(bot, token: str, ref: str, state: str, experiment: str = "sweep") -> None:
    body = {"state": state, "step": 10, "total_steps": 100, "experiment": experiment}
    resp = requests.post(f"{bot.server.url}/api/v1/runs/{ref}", json=body,
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert resp.ok, resp.text


def waited_on(bot) -> list[str]:
    """The runs of the one review, by ref."""
    with bot.services.store.tx() as s:
        review = s.scalar(select(Review))
        return sorted(run.ref for run, _ in rq.review_runs(s, review.id))


def review_count(bot) -> int:
    with bot.services.store.tx() as s:
        return s.scalar(select(func.count()).select_from(Review))


@pytest.fixture
def sweep(bot):
    """Pushed runs: two running and one finished in `sweep`, one running elsewhere."""
    token = connect_push(bot)
    push(bot, token, "lr-1e3", "running")
    push(bot, token, "lr-1e4", "running")
    push(bot, token, "lr-1e2", "finished")
    push(bot, token, "baseline", "running", experiment="other")
    return token


def test_a_review_of_an_experiment_waits_on_its_active_runs_and_says_which(bot, sweep):
    reply = html.unescape(bot.reply('review "Sweep results" at tomorrow 14:00 runs trainer:experiment/sweep'))
    assert "Scheduled review #1" in reply, reply
    assert "Waiting on the 2 runs of experiment `sweep` active now: `lr-1e3`, `lr-1e4`" in reply
    assert "1 run of it has already ended and is not part of the review" in reply
    assert waited_on(bot) == ["lr-1e3", "lr-1e4"]
    bot.deliver()
    announced = html.unescape(str(bot.fake.messages(CHANNEL)[-1]))
    assert "lr-1e3" in announced and "lr-1e4" in announced and "lr-1e2" not in announced

    # A run the experiment starts later is not part of a review already scheduled.
    push(bot, sweep, "lr-1e5", "running")
    assert waited_on(bot) == ["lr-1e3", "lr-1e4"]


def test_experiment_and_named_runs_together(bot, sweep):
    reply = html.unescape(bot.reply('review "All" at tomorrow 14:00 runs trainer:experiment/sweep, trainer:baseline'))
    assert "Scheduled review #1" in reply, reply
    assert waited_on(bot) == ["baseline", "lr-1e3", "lr-1e4"]


def test_an_experiment_without_active_runs_is_refused_and_changes_nothing(bot, sweep):
    push(bot, sweep, "lr-1e3", "finished")
    push(bot, sweep, "lr-1e4", "failed")
    reply = html.unescape(bot.reply('review "Sweep results" at tomorrow 14:00 runs trainer:experiment/sweep'))
    assert "Experiment `sweep` on trainer has no active runs right now" in reply, reply
    assert "3 runs of it have ended" in reply
    assert review_count(bot) == 0
    assert "No runs are tracked" in bot.reply("runs")


def test_an_unknown_experiment_is_refused(bot, sweep):
    reply = html.unescape(bot.reply('review "X" at tomorrow 14:00 runs trainer:experiment/nope'))
    assert "Experiment `nope` on trainer has no active runs right now" in reply, reply
    assert "no runs of it have reported" in reply
    assert review_count(bot) == 0


def test_the_baseline_is_one_run_not_an_experiment(bot, sweep):
    resp = bot.slack.view_submission("review_modal", {
        "title": {"value": "Sweep"}, "when": {"value": "tomorrow 14:00"}, "runs": {"value": "trainer:lr-1e3"},
        "baseline": {"value": "trainer:experiment/other"},
        "policy": {"value": {"type": "static_select", "selected_option": {"value": "warn"}}},
    }, private_metadata=CHANNEL)
    assert "baseline" in resp.json()["errors"]["baseline"].lower()
    assert review_count(bot) == 0


def test_the_form_takes_an_experiment_too(bot, sweep):
    resp = bot.slack.view_submission("review_modal", {
        "title": {"value": "Sweep"}, "when": {"value": "tomorrow 14:00"},
        "runs": {"value": "trainer:experiment/sweep"},
        "policy": {"value": {"type": "static_select", "selected_option": {"value": "warn"}}},
    }, private_metadata=CHANNEL)
    assert resp.status_code == 200 and not resp.text.strip()
    assert bot.fake.wait_for(lambda: bot.fake.ephemerals(CHANNEL))
    assert "`lr-1e3`, `lr-1e4`" in html.unescape(bot.fake.ephemerals(CHANNEL)[-1]["text"])
    assert waited_on(bot) == ["lr-1e3", "lr-1e4"]


def test_the_form_says_it_takes_an_experiment(bot):
    bot.command("review")
    bot.fake.wait_for(lambda: bot.fake.modals())
    runs = next(b for b in bot.fake.modals()[-1]["blocks"] if b["block_id"] == "runs")
    assert "experiment/" in runs["element"]["placeholder"]["text"]


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.mark.mlflow
def test_an_mlflow_experiment_is_tracked_and_its_running_runs_reviewed(bot, mlflow_server, mlflow_logger):
    start = datetime(2026, 11, 23, 10, tzinfo=UTC)
    bot.clock.now = start
    assert "Connected" in bot.reply(f"connect mlflow {mlflow_server}")
    name = f"review-exp-{uuid.uuid4().hex[:8]}"
    exp = mlflow_logger.create_experiment(name)
    done = mlflow_logger.create_run(exp, start_ms=ms(start), name="quick-run")
    mlflow_logger.end_run(done, "FINISHED", ms(start))
    slow = mlflow_logger.create_run(exp, start_ms=ms(start), name="slow-run")
    mlflow_logger.log_metrics(slow, [("loss", 0.9, 10, ms(start))])

    reply = html.unescape(bot.reply(f'review "Exp" at 14:00 runs mlflow:experiment/{name}'))
    assert "Scheduled review #1" in reply, reply
    assert f"Waiting on the 1 run of experiment `{name}` active now: `slow-run`" in reply
    assert f"Now also tracking in this channel: `mlflow:experiment/{name}`" in reply
    assert waited_on(bot) == [slow]
    with bot.services.store.tx() as s:
        assert s.scalar(select(Watch.ref).where(Watch.is_experiment.is_(True))) == name


@pytest.mark.mlflow
def test_an_mlflow_experiment_with_only_ended_runs_is_refused_and_not_tracked(bot, mlflow_server, mlflow_logger):
    bot.clock.now = datetime(2026, 11, 23, 10, tzinfo=UTC)
    assert "Connected" in bot.reply(f"connect mlflow {mlflow_server}")
    name = f"review-done-{uuid.uuid4().hex[:8]}"
    exp = mlflow_logger.create_experiment(name)
    done = mlflow_logger.create_run(exp, start_ms=ms(bot.clock.now), name="quick-run")
    mlflow_logger.end_run(done, "FINISHED", ms(bot.clock.now))

    reply = html.unescape(bot.reply(f'review "Exp" at 14:00 runs mlflow:experiment/{name}'))
    assert f"Experiment `{name}` on mlflow has no active runs right now" in reply, reply
    assert review_count(bot) == 0
    assert "No runs are tracked" in bot.reply("runs")
