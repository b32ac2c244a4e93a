"""`/ready runs` in a channel tracking more runs than one reply shows: pages of 40, a count, and
the command for the next page (issue 13: a listing reads only the rows it shows)."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from sqlalchemy import event, insert, select

from bot.sandbox.world import TEAM_ID
from bot.store import runs as q
from bot.store.models import Connection, Run, Watch, WatchRun
from tests.conftest import T0


def seed(store, channel: str, count: int, team: str = TEAM_ID, prefix: str = "run") -> None:  # noqa: ANN001
    """`count` runs of one experiment watched in `channel`, created in name order."""
    with store.tx() as s:
        conn = s.scalar(select(Connection).where(Connection.team_id == team, Connection.name == "prod"))
        if conn is None:
            conn = Connection(team_id=team, name="prod", kind="mlflow", url="http://127.0.0.1:9", options={},
                              created_at=T0)
            s.add(conn)
            s.flush()
        watch = Watch(team_id=team, channel_id=channel, connection_id=conn.id, ref=f"{prefix}-exp",
                      is_experiment=True, created_by="U1", created_at=T0)
        s.add(watch)
        s.flush()
        s.execute(insert(Run), [dict(
            connection_id=conn.id, ref=f"{prefix}-{i:03d}", name=f"{prefix}-{i:03d}", state="running", step=i,
            total_steps=100, metrics={"loss": 1.0, "val_acc": 0.5}, params={"lr": "0.1"}, started_at=T0,
            heartbeat_at=T0, progress_at=T0, polled_at=T0, active=True, created_at=T0 + timedelta(seconds=i),
            updated_at=T0) for i in range(count)])
        ids = s.scalars(select(Run.id).where(Run.ref.like(f"{prefix}-%"), Run.connection_id == conn.id)).all()
        s.execute(insert(WatchRun), [dict(watch_id=watch.id, run_id=i) for i in ids])


@pytest.fixture
def busy(bot):
    bot.clock.now = T0 + timedelta(minutes=1)
    seed(bot.services.store, "C1", 85)
    seed(bot.services.store, "C2", 5, prefix="other")  # another channel's runs are not counted
    return bot


def say(bot, text: str) -> str:  # noqa: ANN001
    return html.unescape(bot.reply(text, channel_id="C1"))


def test_runs_shows_the_first_page_the_count_and_how_to_see_more(busy):
    text = say(busy, "runs")
    assert text.startswith("*Runs tracked here (85)*")
    names = [line for line in text.splitlines() if "run-0" in line]
    assert len(names) == 40
    assert "run-000" in names[0] and "run-039" in names[-1]
    assert "run-040" not in text and "other-" not in text
    assert text.splitlines()[-1] == "Showing 1–40 of 85 — `/ready runs page 2` for more."


def test_later_pages_continue_where_the_last_stopped(busy):
    second = say(busy, "runs page 2")
    assert "run-040" in second and "run-079" in second and "run-039" not in second and "run-080" not in second
    assert second.splitlines()[-1] == "Showing 41–80 of 85 — `/ready runs page 3` for more."
    last = say(busy, "RUNS PAGE 3")
    assert [n for n in ("run-080", "run-084") if n in last] == ["run-080", "run-084"]
    assert last.splitlines()[-1] == "Showing 81–85 of 85."


def test_a_page_past_the_end_says_how_many_there_are(busy):
    text = say(busy, "runs page 4")
    assert text.startswith(":warning: There is no page 4: this channel tracks 85 runs, 3 pages of 40.")
    assert "/ready runs [page <n>]" in text


def test_a_short_listing_has_no_page_line(bot):
    bot.clock.now = T0 + timedelta(minutes=1)
    seed(bot.services.store, "C1", 3)
    text = say(bot, "runs")
    assert text.startswith("*Runs tracked here (3)*") and "Showing" not in text and "page" not in text


def test_a_page_reads_only_its_rows_and_never_the_params(bot):
    """What makes `/ready runs` cost its page (the benchmark is tests/perf/bench_commands.py)."""
    seed(bot.services.store, "C1", 85)
    statements: list[str] = []
    engine = bot.services.store.engine
    listen = lambda *args: statements.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
    event.listen(engine, "before_cursor_execute", listen)
    try:
        with bot.services.store.tx() as s:
            page = q.channel_run_page(s, TEAM_ID, "C1", 40, 40)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert page.total == 85 and [r.ref for r in page.runs] == [f"run-{i:03d}" for i in range(40, 80)]
    reads = [st for st in statements if st.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1 and "params" not in reads[0] and "LIMIT" in reads[0].upper()


def test_metrics_of_every_json_kind_are_shown_the_same_on_every_listing(bot):
    """The first metrics are kept between listings (bot/store/runs.py, bot/handlers/tracking.py):
    values that cannot be kept (a list a tracker logged) and values equal as keys (1, 1.0, True)
    still show as they did, on the first listing and the ones after."""
    bot.clock.now = T0 + timedelta(minutes=1)
    seed(bot.services.store, "C1", 2)
    with bot.services.store.tx() as s:
        first, second = s.scalars(select(Run).where(Run.ref.in_(["run-000", "run-001"])).order_by(Run.ref))
        first.metrics = {"curve": [1, 2], "acc": 1, "tag": "a<b"}
        second.metrics = {"acc": 1.0, "done": True, "lr": 0.123456}
    lines = [[line for line in say(bot, "runs").splitlines() if "run-00" in line] for _ in range(3)]
    assert lines[0] == lines[1] == lines[2]
    assert "curve=[1, 2], acc=1, tag=a<b" in lines[0][0]
    assert "acc=1, done=1, lr=0.1235" in lines[0][1]


def test_a_listed_run_that_changes_shows_its_new_line_on_the_next_listing(bot):
    """Listing lines are kept between listings (bot/handlers/tracking.py): whatever a pushed
    update changes (state, step, metrics, ETA) and whatever time changes (the ETA's countdown,
    how long a run has been stalled) shows on the very next `/ready runs`."""
    from tests.e2e.test_push_runs import connect_push, push

    token = connect_push(bot)
    assert push(bot, token, {"state": "running", "step": 10, "total_steps": 100, "metrics": {"loss": 0.5}}).ok
    bot.reply("track trainer:resnet-7")
    listings = [html.unescape(bot.reply("runs")) for _ in range(2)]
    assert listings[0] == listings[1] and "step 10/100 (10%)" in listings[0] and "loss=0.5" in listings[0]

    assert push(bot, token, {"state": "running", "step": 40, "metrics": {"loss": 0.25}}).ok
    moved = html.unescape(bot.reply("runs"))
    assert "step 40/100 (40%)" in moved and "loss=0.25" in moved and "loss=0.5" not in moved

    bot.clock.advance(minutes=45)  # silence longer than the stall time: the poll marks it stalled
    bot.cycle()
    stalled = html.unescape(bot.reply("runs"))
    assert "stalled 45 min" in stalled and ":hourglass:" in stalled
    bot.clock.advance(minutes=5)  # nothing stored changed, only the clock
    assert "stalled 50 min" in html.unescape(bot.reply("runs"))

    assert push(bot, token, {"state": "finished", "step": 100, "metrics": {"loss": 0.0123}}).ok
    done = html.unescape(bot.reply("runs"))
    assert ":white_check_mark:" in done and "finished" in done and "loss=0.0123" in done and "stalled" not in done


def test_each_listed_run_has_its_section_with_its_own_line_and_stop_button(busy):
    """The sections go out pre-encoded (bot/handlers/base.py Reply.as_json): the answer Slack
    gets is still one JSON object whose blocks are the text's lines, each run with its button."""
    for _ in range(2):  # built, then kept
        answer = busy.command("runs", channel_id="C1").json()
        lines = answer["text"].splitlines()
        assert [b["text"]["text"] for b in answer["blocks"]] == lines and len(lines) == 42
        buttons = [b["accessory"]["value"] for b in answer["blocks"][1:41]]
        assert len(set(buttons)) == 40 and answer["response_type"] == "ephemeral"
