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
from datetime import UTC, datetime

import requests
from sqlalchemy import select

from bot.jobs.digests import post_digest
from bot.sandbox import view_errors
from bot.sandbox.world import BOT_USER_ID, TEAM_ID
from bot.store.models import Connection, Decision, Run, Target, Watch, WatchRun
from tests.e2e.test_push_runs import connect_push, push

CHANNEL = "C1"


def at(hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 11, 23, hh, mm, tzinfo=UTC)


def text_of(message: dict) -> str:
    parts = [message.get("text") or ""]
    for block in message.get("blocks") or []:
        if isinstance(block.get("text"), dict):
            parts.append(block["text"]["text"])
        parts += [e.get("text", "") for e in block.get("elements") or [] if isinstance(e.get("text"), str)]
    return html.unescape("\n".join(parts))


def buttons(message: dict) -> dict[str, dict]:
    return {e["text"]["text"]: e for b in message.get("blocks") or [] if b["type"] == "actions"
            for e in b["elements"]}


def headed(bot, prefix: str) -> list[dict]:
    return [m for m in bot.fake.messages(CHANNEL) if (m.get("text") or "").startswith(prefix)]


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
    for bad_path in (f"{feed[:-1]}x.md", "short.csv", f"{feed}.pdf", f"{feed}", "../../etc/passwd.md", "%00.md"):
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
