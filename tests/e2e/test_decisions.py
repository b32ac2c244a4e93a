"""Decision records end to end: pushed runs (the real push API) finish, the review's results
offer *Record decision*, the form is submitted as a signed view_submission, the tracker's
metrics then change, and `/ready decisions` and the exports still show the frozen copy. The
leaderboard and the digest's "new best" run on the same runs. Both databases (the `bot` fixture
is parametrized over SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import html
import io
import re
import uuid

import pytest
import requests
from sqlalchemy import select

from bot.jobs.digests import post_digest
from bot.jobs.reviews import check_reviews
from bot.notify.outbox import find
from bot.sandbox import view_errors
from bot.sandbox.world import BOT_USER_ID, TEAM_ID
from bot.store.models import Connection, Decision, Run, Target, Watch, WatchRun
from tests.e2e.review_support import CHANNEL, at, buttons, headed, ms, text_of
from tests.e2e.test_push_runs import connect_push, push
from tests.kill9 import wait_until


def add_target(bot, metric: str, op: str, threshold: float) -> None:
    with bot.services.store.tx() as s:
        s.add(Target(team_id=TEAM_ID, channel_id=CHANNEL, metric=metric, op=op, threshold=threshold,
                     created_at=bot.clock.now))


def two_runs(bot) -> str:
    """resnet-50 and resnet-50-aug, running, pushed and tracked here; returns the push token."""
    bot.clock.now = at(10)
    bot.fake.add_user("U2", "bob")
    bot.fake.add_channel(CHANNEL, "general", [BOT_USER_ID, "U1", "U2"])
    token = connect_push(bot)
    for ref, lr in (("resnet-50", "0.1"), ("resnet-50-aug", "0.05")):
        assert push(bot, token, {"state": "running", "step": 100, "metrics": {"val_acc": 0.5, "loss": 1.0},
                                 "params": {"lr": lr, "optimizer": "sgd"}}, ref=ref).ok
        assert "Now tracking" in bot.reply(f"track trainer:{ref}")
    return token


def finish_both(bot, token: str) -> None:
    bot.clock.now = at(11)
    assert push(bot, token, {"state": "finished", "step": 1000, "metrics": {"val_acc": 0.904, "loss": 0.3}},
                ref="resnet-50").ok
    assert push(bot, token, {"state": "finished", "step": 1200, "metrics": {"val_acc": 0.912, "loss": 0.25}},
                ref="resnet-50-aug").ok
    bot.deliver()


def schedule(bot, when: str = "15:00") -> int:
    reply = bot.reply(f'review "Aug or not" at {when} runs trainer:resnet-50,trainer:resnet-50-aug')
    return int(re.search(r"Scheduled review #(\d+)", reply)[1])


def open_decision_form(bot, results: dict, user: str = "U2") -> dict:
    button = buttons(results)["Record decision"]
    before = len(bot.fake.modals())
    resp = bot.slack.block_action(button["action_id"], button["value"], user_id=user, channel_id=CHANNEL,
                                  message_ts=results["ts"])
    assert resp.status_code == 200
    bot.fake.wait_for(lambda: len(bot.fake.modals()) > before)
    return bot.fake.modals()[-1]


def submit(bot, view: dict, choice: str, note: str, run_values: list[str] | None = None, user: str = "U2",
           **kw) -> requests.Response:
    runs = next(b for b in view["blocks"] if b["block_id"] == "runs")["element"]
    picked = runs["initial_options"] if run_values is None else [{"value": v} for v in run_values]
    values = {
        "choice": {"value": {"type": "static_select", "selected_option": {"value": choice}}},
        "note": {"value": note},
        "runs": {"value": {"type": "multi_static_select", "selected_options": picked}},
    }
    return bot.slack.view_submission("decision_modal", values, user_id=user, view=view, **kw)


def feed_token(bot) -> str:
    return re.search(r"/decisions/([A-Za-z0-9_-]+)\.md", bot.reply("decisions"))[1]


def test_results_decision_frozen_metrics_exports_and_the_next_review(bot):
    add_target(bot, "val_acc", ">=", 0.9)
    token = two_runs(bot)
    review_id = schedule(bot)
    finish_both(bot, token)
    [results] = headed(bot, "Results ready")
    assert "Record decision" in buttons(results)

    view = open_decision_form(bot, results)
    assert view_errors(view) == []
    runs = next(b for b in view["blocks"] if b["block_id"] == "runs")["element"]
    assert sorted(o["text"]["text"] for o in runs["initial_options"]) == ["resnet-50", "resnet-50-aug"]
    assert {o["value"] for o in next(b for b in view["blocks"] if b["block_id"] == "choice")["element"]["options"]} \
        == {"ship", "continue", "stop", "next"}

    # A choice is required; nothing is stored without one.
    bad = submit(bot, view, "maybe", "")
    assert bad.json()["response_action"] == "errors" and "choice" in bad.json()["errors"]

    bot.clock.now = at(11, 30)
    ok = submit(bot, view, "ship", "aug wins by 0.8 pt\nship it")
    assert ok.status_code == 200 and not ok.text.strip()
    assert bot.fake.wait_for(lambda: any("Recorded decision" in e["text"] for e in bot.fake.ephemerals(CHANNEL)))
    # The listener delivers it right after its ephemeral answer; wait for it, never sleep.
    [posted] = bot.fake.wait_for(
        lambda: [m for m in bot.fake.messages(CHANNEL) if "recorded the decision" in text_of(m)])
    assert "Ship" in text_of(posted) and "val_acc=0.912" in text_of(posted)
    with bot.services.store.tx() as s:
        [decision] = s.scalars(select(Decision)).all()
        assert (decision.decided_by, decision.choice, decision.review_id) == ("U2", "ship", review_id)
        key = decision.message_key or f"decision:{decision.id}"
    # The permalink needs the post's ts, which the dispatcher stores just after Slack answers.
    assert wait_until(lambda: posted_ts(bot, key) == posted["ts"], timeout=10)

    # The tracker changes its mind about the run afterwards.
    assert push(bot, token, {"state": "finished", "step": 1300, "metrics": {"val_acc": 0.5}},
                ref="resnet-50-aug").ok
    listed = html.unescape(bot.reply("decisions"))
    assert "Ship" in listed and "<@U2>" in listed and "aug wins by 0.8 pt ship it" in listed
    assert "resnet-50-aug `trainer` step 1200: loss=0.25, val_acc=0.912" in listed
    assert "val_acc=0.5" not in listed
    permalink = bot.fake.last("chat.getPermalink")
    assert permalink.params["message_ts"] == posted["ts"]
    assert re.search(r"<https?://[^|>]+\|message>", listed)

    feed = feed_token(bot)
    md = requests.get(f"{bot.server.url}/decisions/{feed}.md", timeout=5)
    assert md.status_code == 200 and md.headers["Content-Type"].startswith("text/markdown")
    assert "Ship" in md.text and "val_acc=0.912" in md.text and "Aug or not" in md.text
    assert "val_acc=0.5" not in md.text
    got = requests.get(f"{bot.server.url}/decisions/{feed}.csv", timeout=5)
    assert got.status_code == 200 and got.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(got.text)))
    assert [(r["run"], r["decision"], r["step"]) for r in rows] == [("resnet-50", "ship", "1000"),
                                                                    ("resnet-50-aug", "ship", "1200")]
    assert rows[0]["permalink"].startswith("http")
    other = feed[:-1] + ("y" if feed[-1] != "y" else "z")  # one character off (not the same one: 1 in 64)
    for bad_path in (f"{other}.md", "short.csv", f"{feed}.pdf", f"{feed}", "../../etc/passwd.md", "%00.md"):
        assert requests.get(f"{bot.server.url}/decisions/{bad_path}", timeout=5).status_code == 404

    # The next review of the same runs shows the last decision on them.
    schedule(bot, when="16:00")
    bot.deliver()
    scheduled = [m for m in bot.fake.messages(CHANNEL) if "scheduled review" in text_of(m)]
    assert "Last decision on these runs: Ship" in text_of(scheduled[-1]).replace("*", "")
    # Its runs are done already, so its results come at once, and say it too.
    again = headed(bot, "Results ready")
    assert len(again) == 2 and "Last decision on these runs: Ship" in text_of(again[-1]).replace("*", "")


def test_a_decision_form_for_another_channel_or_team_changes_nothing(bot):
    token = two_runs(bot)
    schedule(bot)
    finish_both(bot, token)
    [results] = headed(bot, "Results ready")
    view = open_decision_form(bot, results)
    other = {**view, "private_metadata": view["private_metadata"].replace(CHANNEL, "C9")}
    refused = submit(bot, other, "stop", "")
    assert refused.json()["response_action"] == "errors"
    assert "no review" in refused.json()["errors"]["choice"]
    refused = submit(bot, view, "stop", "", team_id="T0OTHER")
    assert refused.json()["response_action"] == "errors"
    outsider = submit(bot, view, "stop", "", run_values=["999999"])
    assert "only" in outsider.json()["errors"]["runs"]
    with bot.services.store.tx() as s:
        assert s.scalars(select(Decision)).all() == []
    assert "No decisions recorded" in bot.reply("decisions")
    assert "No decisions recorded" in bot.reply("decisions last 3")
    assert "takes a number" in bot.reply("decisions last 99")


def test_leaderboard_order_direction_and_the_digest_new_best(bot):
    add_target(bot, "val_acc", ">=", 0.95)
    token = two_runs(bot)
    assert push(bot, token, {"state": "running", "step": 400, "metrics": {"val_acc": 0.904, "loss": 0.30}},
                ref="resnet-50").ok
    assert push(bot, token, {"state": "running", "step": 300, "metrics": {"val_acc": 0.88, "loss": 0.25}},
                ref="resnet-50-aug").ok
    board = html.unescape(bot.reply("leaderboard"))
    lines = [line for line in board.splitlines() if line[:2] in ("1.", "2.")]
    assert "resnet-50" in lines[0] and "resnet-50-aug" not in lines[0] and "resnet-50-aug" in lines[1]
    assert "0.904" in lines[0] and "step 400" in lines[0] and "lr=0.1" in lines[0] and "0.046 to go" in lines[0]
    assert "optimizer" not in lines[0]  # the same for both: not what sets them apart
    assert "higher is better" in board

    # loss has no target: higher by default, `min` turns it round.
    loss_min = [line for line in html.unescape(bot.reply("leaderboard loss min")).splitlines() if line[:2] == "1."]
    assert "resnet-50-aug" in loss_min[0]
    loss_max = [line for line in html.unescape(bot.reply("leaderboard loss")).splitlines() if line[:2] == "1."]
    assert "resnet-50-aug" not in loss_max[0]

    add_target(bot, "loss", "<=", 0.1)
    which = bot.reply("leaderboard")
    assert "Which metric?" in which and "`loss`" in which and "`val_acc`" in which
    assert "unexpected `extra`" in bot.reply("leaderboard val_acc max extra")
    assert "not a metric" in bot.reply("leaderboard val!acc")
    assert "takes an experiment" in bot.reply("leaderboard on trainer:resnet-50")

    bot.clock.now = at(12)
    assert post_digest(bot.services, TEAM_ID, CHANNEL, "2026-11-23", at(12))
    bot.deliver()
    first = text_of(bot.fake.messages(CHANNEL)[-1])
    assert "val_acc" in first and "new best" not in first

    assert push(bot, token, {"state": "running", "step": 500, "metrics": {"val_acc": 0.912, "loss": 0.2}},
                ref="resnet-50-aug").ok
    bot.clock.now = at(13)
    assert post_digest(bot.services, TEAM_ID, CHANNEL, "2026-11-24", at(13))
    bot.deliver()
    second = text_of(bot.fake.messages(CHANNEL)[-1])
    assert "new best: resnet-50-aug val_acc 0.912, +0.8 pt" in second.replace("*", "")
    # loss (minimized by its target) improved too, but on the run that already led: no new leader.
    bot.clock.now = at(14)
    assert post_digest(bot.services, TEAM_ID, CHANNEL, "2026-11-25", at(14))
    bot.deliver()
    assert "new best" not in text_of(bot.fake.messages(CHANNEL)[-1])  # nobody took the lead since


def test_leaderboard_of_one_experiment_ranks_only_its_runs(bot):
    two_runs(bot)
    with bot.services.store.tx() as s:
        conn = s.scalar(select(Connection).where(Connection.name == "trainer"))
        run = s.scalar(select(Run).where(Run.ref == "resnet-50-aug"))
        watch = Watch(team_id=TEAM_ID, channel_id=CHANNEL, connection_id=conn.id, ref="sweep", is_experiment=True,
                      created_at=bot.clock.now)
        s.add(watch)
        s.flush()
        s.add(WatchRun(watch_id=watch.id, run_id=run.id))
    board = html.unescape(bot.reply("leaderboard val_acc on trainer:experiment/sweep"))
    assert "Leaderboard of trainer:experiment/sweep" in board
    assert "resnet-50-aug" in board and "resnet-50`" not in board
    assert "No runs of" in bot.reply("leaderboard val_acc on trainer:experiment/other")
    assert "No connection named" in bot.reply("leaderboard val_acc on nowhere:experiment/sweep")
    # In another channel nothing of this one shows.
    assert "No runs" in bot.reply("leaderboard val_acc", channel_id="C2")


# --- editing and removing a decision -----------------------------------------------------------


def recorded(bot, user: str = "U2") -> dict:
    """Two finished runs, their review's results, and decision #1 (Ship) recorded by `user`;
    returns the decision's message in the results' thread."""
    token = two_runs(bot)
    schedule(bot)
    finish_both(bot, token)
    [results] = headed(bot, "Results ready")
    bot.clock.now = at(11, 30)
    assert submit(bot, open_decision_form(bot, results, user=user), "ship", "aug wins", user=user).status_code == 200
    return bot.fake.wait_for(lambda: next((m for m in bot.fake.messages(CHANNEL)
                                           if "recorded the decision" in text_of(m)), None))


def edit_values(choice: str, note: str) -> dict:
    return {"choice": {"value": {"type": "static_select", "selected_option": {"value": choice}}},
            "note": {"value": note}}


def open_edit_form(bot, decision_id: int, user: str) -> dict:
    before = len(bot.fake.modals())
    assert bot.reply(f"decisions edit {decision_id}", user_id=user) == ""
    bot.fake.wait_for(lambda: len(bot.fake.modals()) > before)
    return bot.fake.modals()[-1]


def test_the_recorder_edits_a_decision_the_runs_stay_frozen_and_everyone_sees_who_edited(bot):
    posted = recorded(bot, user="U2")
    refused = html.unescape(bot.reply("decisions edit 1", user_id="U1"))
    assert refused == ":warning: Only <@U2> who recorded it, or a workspace admin, can edit decision #1. Nothing was changed."
    assert "There is no decision #99" in bot.reply("decisions edit 99", user_id="U2")
    assert "There is no decision #1" in bot.reply("decisions edit 1", user_id="U2", channel_id="C2")

    view = open_edit_form(bot, 1, user="U2")
    assert view_errors(view) == []
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks["choice"]["element"]["initial_option"]["value"] == "ship"
    assert blocks["note"]["element"]["initial_value"] == "aug wins"
    assert "runs" not in blocks  # the runs it rests on cannot change
    assert "as they were when it was recorded: resnet-50, resnet-50-aug" in text_of(view)

    # A submission by someone else (a replayed or forged form) is refused inside the form.
    forged = bot.slack.view_submission("decision_edit_modal", edit_values("stop", "no"), user_id="U1", view=view)
    assert "Only <@U2> who recorded it" in html.unescape(forged.json()["errors"]["choice"])

    bot.clock.now = at(12)
    ok = bot.slack.view_submission("decision_edit_modal", edit_values("continue", "two more epochs"),
                                   user_id="U2", view=view)
    assert ok.status_code == 200 and not ok.text.strip()
    assert bot.fake.wait_for(lambda: any("now says *Continue training*" in e["text"]
                                         for e in bot.fake.ephemerals(CHANNEL)))
    with bot.services.store.tx() as s:
        [decision] = s.scalars(select(Decision)).all()
        assert (decision.choice, decision.note, decision.edited_by, decision.edited_at) == (
            "continue", "two more epochs", "U2", at(12))
    listed = html.unescape(bot.reply("decisions"))
    assert "Continue training" in listed and "(edited by <@U2>" in listed and "two more epochs" in listed
    assert "resnet-50-aug `trainer` step 1200: loss=0.25, val_acc=0.912" in listed
    # The decision's message in the thread says it too.
    updated = bot.fake.wait_for(lambda: next((m for m in bot.fake.messages(CHANNEL)
                                              if m["ts"] == posted["ts"] and "edited by" in text_of(m)), None))
    assert "Continue training" in text_of(updated) and "val_acc=0.912" in text_of(updated)

    feed = feed_token(bot)
    md = requests.get(f"{bot.server.url}/decisions/{feed}.md", timeout=5).text
    assert "Continue training" in md and "edited by U2" in md
    [row, _] = list(csv.DictReader(io.StringIO(requests.get(f"{bot.server.url}/decisions/{feed}.csv", timeout=5).text)))
    assert (row["decision"], row["edited_by"], row["edited_at"]) == ("continue", "U2", at(12).isoformat())


def test_only_the_recorder_or_an_admin_removes_a_decision(bot):
    posted = recorded(bot, user="U2")
    bot.fake.add_user("U3", "erin", is_admin=True)
    refused = html.unescape(bot.reply("decisions remove 1", user_id="U1"))
    assert refused == ":warning: Only <@U2> who recorded it, or a workspace admin, can remove decision #1. Nothing was changed."
    assert "There is no decision #1" in bot.reply("decisions remove 1", user_id="U3", channel_id="C2")
    assert "is not an id" in bot.reply("decisions remove one", user_id="U3")
    assert "Ship" in bot.reply("decisions")

    assert "Removed decision #1 (*Ship*)" in bot.reply("decisions remove 1", user_id="U3")
    assert "No decisions recorded" in bot.reply("decisions")
    with bot.services.store.tx() as s:
        assert s.scalars(select(Decision)).all() == []
    bot.deliver()
    gone = bot.fake.wait_for(lambda: next((m for m in bot.fake.messages(CHANNEL)
                                           if m["ts"] == posted["ts"] and "was removed" in text_of(m)), None))
    assert "Decision #1 on review #1 *Aug or not* was removed by <@U3>" in text_of(gone)
    assert "There is no decision #1" in bot.reply("decisions remove 1", user_id="U3")


# --- against the real MLflow server ----------------------------------------------------------


@pytest.mark.mlflow
def test_mlflow_runs_finish_a_decision_is_recorded_and_later_metrics_do_not_rewrite_it(
        bot, mlflow_server, mlflow_logger):
    bot.clock.now = at(10)
    bot.fake.add_user("U2", "bob")
    bot.fake.add_channel(CHANNEL, "general", [BOT_USER_ID, "U1", "U2"])
    assert "Connected" in bot.reply(f"connect mlflow {mlflow_server}")
    exp = mlflow_logger.create_experiment(f"decide-{uuid.uuid4().hex[:8]}")
    refs = {}
    for name, lr in (("base", "0.1"), ("aug", "0.05")):
        refs[name] = mlflow_logger.create_run(exp, start_ms=ms(at(9)), name=name, params={"lr": lr})
        mlflow_logger.log_metrics(refs[name], [("val_acc", 0.5, 100, ms(at(9, 30)))])
    reply = bot.reply(f'review "Aug or not" at 15:00 runs mlflow:{refs["base"]},mlflow:{refs["aug"]}')
    assert "Scheduled review #1" in reply
    bot.cycle()

    bot.clock.now = at(11)
    for name, value in (("base", 0.904), ("aug", 0.912)):
        mlflow_logger.log_metrics(refs[name], [("val_acc", value, 1000, ms(at(10, 50)))])
        mlflow_logger.end_run(refs[name], "FINISHED", ms(at(10, 55)))
    bot.cycle()
    check_reviews(bot.services)
    bot.deliver()
    [results] = headed(bot, "Results ready")
    bot.clock.now = at(11, 30)
    assert submit(bot, open_decision_form(bot, results), "ship", "aug wins").status_code == 200
    bot.fake.wait_for(lambda: any("recorded the decision" in text_of(m) for m in bot.fake.messages(CHANNEL)))

    # MLflow's numbers change afterwards: a later value of the metric, logged after the decision.
    bot.clock.now = at(12)
    mlflow_logger.log_metrics(refs["aug"], [("val_acc", 0.61, 1100, ms(at(11, 59)))])
    got = requests.get(f"{mlflow_server}/api/2.0/mlflow/runs/get", params={"run_id": refs["aug"]}, timeout=10)
    assert {m["key"]: m["value"] for m in got.json()["run"]["data"]["metrics"]}["val_acc"] == pytest.approx(0.61)
    bot.cycle()

    listed = html.unescape(bot.reply("decisions"))
    assert "Ship" in listed and "aug `mlflow` step 1000: val_acc=0.912" in listed and "0.61" not in listed
    feed = feed_token(bot)
    md = requests.get(f"{bot.server.url}/decisions/{feed}.md", timeout=5).text
    assert "val_acc=0.912" in md and "0.61" not in md and "lr=0.05" in md
    rows = list(csv.DictReader(io.StringIO(requests.get(f"{bot.server.url}/decisions/{feed}.csv", timeout=5).text)))
    assert {r["run"]: r["metrics"] for r in rows} == {"base": "val_acc=0.904", "aug": "val_acc=0.912"}


def posted_ts(bot, key: str) -> str | None:
    with bot.services.store.tx() as s:
        row = find(s, key)
        return row.ts if row is not None else None
