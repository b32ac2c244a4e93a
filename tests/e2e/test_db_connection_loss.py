"""PostgreSQL ends the bot's pooled connections between requests (a restart, an idle-connection
reaper, pg_terminate_backend): the next requests still get their answers, never "Something went
wrong". The pool sees that the server closed a connection before handing it out and opens a new
one (bot/store/db.py); no SELECT 1 before every request."""

from __future__ import annotations

import html
from contextlib import ExitStack

import pytest
import requests
from sqlalchemy import create_engine, text

from bot.listeners.commands import OOPS
from tests.conftest import PG_URL
from tests.e2e.test_runs_pages import seed


@pytest.fixture
def tracked(bot):  # noqa: ANN001
    if not bot.services.store.is_postgres:
        pytest.skip("SQLite has no server to end connections")
    seed(bot.services.store, "C1", 3)
    assert "(3)" in bot.reply("runs", channel_id="C1")  # the pool now holds a used connection
    return bot


def end_pooled_connections(store) -> int:  # noqa: ANN001 - a Store
    """Terminate, from outside the bot, every connection its pool holds; how many there were."""
    engine = store.engine
    with ExitStack() as held:  # check out as many as the pool keeps, so each is seen once
        conns = [held.enter_context(engine.connect()) for _ in range(engine.pool.size())]
        pids = [c.exec_driver_sql("SELECT pg_backend_pid()").scalar() for c in conns]
        for c in conns:
            c.rollback()
    admin = create_engine(PG_URL)
    try:
        with admin.connect() as conn:
            for pid in pids:  # waits (up to 5 s) until the backend is gone, as after a restart
                assert conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}).scalar()
    finally:
        admin.dispose()
    return len(pids)


def test_runs_after_the_server_ended_every_pooled_connection(tracked):
    assert end_pooled_connections(tracked.services.store) == 5
    for _ in range(6):  # more requests than the pool held dead connections
        text_ = html.unescape(tracked.reply("runs", channel_id="C1"))
        assert text_.startswith("*Runs tracked here (3)*"), text_
        assert OOPS not in text_


def test_a_change_after_the_server_ended_every_pooled_connection(tracked):
    end_pooled_connections(tracked.services.store)
    said = html.unescape(tracked.reply("untrack prod:experiment/run-exp", channel_id="C1"))
    assert "Stopped tracking" in said, said
    assert tracked.reply("runs", channel_id="C1").startswith("No runs are tracked in this channel yet.")


def test_healthz_after_the_server_ended_every_pooled_connection(tracked):
    end_pooled_connections(tracked.services.store)
    resp = requests.get(tracked.server.url + "/healthz", timeout=5)
    assert resp.status_code == 200 and resp.json() == {"ok": True}


@pytest.fixture
def replays_unrecordable(bot):  # noqa: ANN001
    """The table where requests are remembered against Slack's retries cannot be written: the
    database fails a command's very first statement."""
    with bot.services.store.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE seen_requests RENAME TO seen_requests_away")
    yield bot
    with bot.services.store.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE seen_requests_away RENAME TO seen_requests")


@pytest.mark.parametrize("command", ["untrack prod:experiment/run-exp", "target val_acc >= 0.9", "track prod:r1"])
def test_a_command_whose_replay_check_fails_in_the_database_says_so_not_a_500(replays_unrecordable, command):
    """The replay claim ran outside the handler's error handling: Bolt answered HTTP 500 and the
    user saw Slack's own failure text instead of ours."""
    before = len(replays_unrecordable.fake.responses())
    resp = replays_unrecordable.slack.command(command, channel_id="C1")
    assert resp.status_code == 200, resp.text
    said = resp.json().get("text", "") if resp.text.strip() else ""
    if not said:  # a slow command may answer through response_url
        replays_unrecordable.fake.wait_for(lambda: len(replays_unrecordable.fake.responses()) > before)
        said = replays_unrecordable.fake.responses()[-1].get("text", "")
    assert OOPS in said


def test_a_button_whose_replay_check_fails_in_the_database_is_still_answered(replays_unrecordable):
    """The repeat check of clicks ran as middleware with no error handling: a database failure
    there was an HTTP 500 (Slack shows the user a warning icon, and nothing else happens)."""
    resp = replays_unrecordable.slack.block_action("standup_questions", "C1", channel_id="C1")
    assert resp.status_code == 200, resp.text
    told = replays_unrecordable.fake.wait_for(lambda: replays_unrecordable.fake.messages("U1"))
    assert [m["text"] for m in told] == [":warning: Set a standup first with `/ready standup at &lt;HH:MM&gt;`."]
