"""The poll cycle per connection: one tracker's failure is its own, a quiet poll writes
nothing but the connection's "last polled", and the cycle's queries do not grow with its runs.
A real MLflow server; the broken tracker is the one thing made up (a tracker with a bug)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from bot.jobs import claims
from bot.jobs.poll import POOL_SIZE, ask, plan, poll_once
from bot.jobs.record import record
from bot.store.models import Connection, Run
from tests.conftest import T0, quick_trackers
from tests.e2e.poll_support import ms, runs_just_finished

pytestmark = pytest.mark.mlflow


class BuggyTracker:
    """A tracker whose code has a bug: not a TrackerError, an AttributeError."""

    def fetch_runs(self, refs):  # noqa: ANN001, ANN201
        return None.snapshots  # type: ignore[attr-defined]

    def list_runs(self, experiment, since=None):  # noqa: ANN001, ANN201
        return []

    def metric_history(self, refs, key, start_step=None):  # noqa: ANN001, ANN201
        return {}

    def check(self) -> None:
        return None


def tracked_runs(bot, mlflow_logger, mlflow_server, names: list[str]) -> dict[str, str]:  # noqa: ANN001
    exp = mlflow_logger.create_experiment(f"iso-{uuid.uuid4().hex[:8]}")
    refs = {}
    for name in names:
        assert "Connected" in bot.reply(f"connect mlflow {mlflow_server} as {name}")
        refs[name] = mlflow_logger.create_run(exp, start_ms=ms(T0 - timedelta(minutes=5)), name=f"run-{name}")
        mlflow_logger.log_metrics(refs[name], [("loss", 0.5, 1, ms(T0))])
        assert "Now tracking" in bot.reply(f"track {name}:{refs[name]}")
    return refs


def test_a_tracker_that_raises_attribute_error_does_not_stop_another_connections_poll(
        bot, mlflow_server, mlflow_logger):
    refs = tracked_runs(bot, mlflow_logger, mlflow_server, ["good", "buggy"])
    bot.cycle()
    bot.services.trackers = lambda info: BuggyTracker() if info.name == "buggy" else quick_trackers(info)
    bot.services.tracker_cache.clear()
    for ref in refs.values():
        mlflow_logger.end_run(ref, "FINISHED", ms(T0 + timedelta(minutes=1)))
    bot.clock.advance(minutes=2)
    bot.cycle()
    finished = [m["text"] for m in bot.fake.messages("C1") if "finished" in m.get("text", "")]
    assert len(finished) == 1 and "run-good" in finished[0]
    with bot.services.store.tx() as s:
        buggy = s.scalar(select(Run).where(Run.ref == refs["buggy"]))
        assert buggy.state == "running" and buggy.stale_since == bot.clock()
    assert "tracker not answering" in bot.reply("runs")


def poll_statements(bot) -> list[str]:  # noqa: ANN001
    """The SQL statements of one poll, as the engine sent them (upper case, one line each)."""
    return poll_statements_of(bot, bot.poll)


def poll_statements_of(bot, step) -> list[str]:  # noqa: ANN001
    """The SQL statements `step` sent (upper case, one line each)."""
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):  # noqa: ANN001, ANN002
        statements.append(" ".join(statement.split()).upper())
    event.listen(bot.services.store.engine, "before_cursor_execute", seen)
    try:
        step()
    finally:
        event.remove(bot.services.store.engine, "before_cursor_execute", seen)
    return statements


def run_writes(statements: list[str]) -> list[str]:
    """The tables written to (`UPDATE RUNS`, ...), but the connection's own "last polled" row."""
    writes = [st.split(" SET ")[0] for st in statements if st.startswith(("UPDATE", "INSERT", "DELETE"))]
    return [w for w in writes if "CONNECTION_POLLS" not in w]


def test_a_quiet_poll_writes_only_the_connections_last_polled_and_staleness_counts_from_it(
        bot, mlflow_server, mlflow_logger):
    [ref] = tracked_runs(bot, mlflow_logger, mlflow_server, ["quiet"]).values()
    bot.cycle()
    bot.clock.advance(minutes=5)
    statements = poll_statements(bot)  # nothing changed on the tracker
    assert run_writes(statements) == [], statements
    polled = [st for st in statements if "FROM RUNS" in st and "KIND NOT IN" not in st]  # not the pushed runs' sweep
    assert len(polled) == 2, polled  # the plan and the record read the runs once each
    with bot.services.store.tx() as s:
        run = s.scalar(select(Run).where(Run.ref == ref))
        assert run.updated_at == T0  # untouched by the quiet poll
        conn_id = s.scalar(select(Connection.id).where(Connection.name == "quiet"))
        assert claims.last_polled(s, conn_id) == bot.clock()
    # The tracker stops answering a minute later: the data is as old as the quiet poll, not older.
    last_good = bot.clock()
    bot.services.trackers = lambda info: BuggyTracker()
    bot.services.tracker_cache.clear()
    bot.clock.advance(minutes=1)
    bot.poll()
    with bot.services.store.tx() as s:
        run = s.scalar(select(Run).where(Run.ref == ref))
        assert run.stale_since == bot.clock() and run.polled_at == last_good
    assert "data 1m old" in bot.reply("runs")  # not 6m: the quiet poll counted


def test_finishing_many_runs_reads_their_channels_and_reviews_once(bot, mlflow_server, mlflow_logger):
    runs_just_finished(bot, mlflow_logger, mlflow_server, 8, "m")
    statements = poll_statements(bot)
    channel_reads = [st for st in statements if "JOIN" in st and "WATCH_RUNS" in st and "WATCHES.CHANNEL_ID" in st]
    review_reads = [st for st in statements if "FROM REVIEWS" in st]
    # One statement for both: they were two of the eight statements of recording such an answer.
    assert len(channel_reads) == 1 and review_reads == channel_reads, channel_reads + review_reads
    assert len([m for m in bot.fake.messages("C1")]) == 0  # queued, not yet delivered
    bot.deliver()
    assert len([m for m in bot.fake.messages("C1") if "finished" in m.get("text", "")]) == 8


def test_a_run_gone_from_the_tracker_is_not_written_again_by_polls_that_learn_nothing_new(
        bot, mlflow_server, mlflow_logger):
    [ref] = tracked_runs(bot, mlflow_logger, mlflow_server, ["vanishing"]).values()
    bot.cycle()
    mlflow_logger.delete_run(ref)
    for _ in range(3):  # three answers without it: as many as confirming the absence needs
        bot.clock.advance(minutes=1)
        assert run_writes(poll_statements(bot)) != []  # each one counted
    bot.clock.advance(minutes=1)
    assert run_writes(poll_statements(bot)) == []  # a fourth absence only waits for the ten minutes to pass
    bot.clock.advance(minutes=10)
    assert run_writes(poll_statements(bot)) != []  # confirmed: the run is unknown now, and the channel is told
    with bot.services.store.tx() as s:
        run = s.scalar(select(Run).where(Run.ref == ref))
        assert run.state == "unknown", run.state
        confirmed_at = run.updated_at
    bot.clock.advance(minutes=1)
    assert run_writes(poll_statements(bot)) == []  # still gone: nothing new to write
    with bot.services.store.tx() as s:
        assert s.scalar(select(Run.updated_at).where(Run.ref == ref)) == confirmed_at
    bot.deliver()
    assert len([m for m in bot.fake.messages("C1") if "can no longer be found" in m.get("text", "")]) == 1


def test_an_answer_finishing_many_runs_is_one_run_update_and_one_outbox_insert_and_a_replay_queues_nothing_more(
        bot, mlflow_server, mlflow_logger):
    runs_just_finished(bot, mlflow_logger, mlflow_server, 6, "b")
    [work] = plan(bot.services)
    answer = ask(bot.services, work)
    statements = poll_statements_of(bot, lambda: record(bot.services, work, answer))
    assert len([st for st in statements if st.startswith("UPDATE RUNS")]) == 1, statements
    assert len([st for st in statements if st.startswith("INSERT INTO OUTBOX")]) == 1, statements
    record(bot.services, work, answer)  # the same answer recorded again: a replica's late replay
    bot.deliver()
    finished = [m for m in bot.fake.messages("C1") if "finished" in m.get("text", "")]
    assert len(finished) == 6


def test_each_polled_connection_costs_one_commit_its_next_claim_taken_while_recording_the_last(
        bot, mlflow_server, mlflow_logger):
    names = [f"c{i}" for i in range(6)]
    tracked_runs(bot, mlflow_logger, mlflow_server, names)
    commits = []

    def committed(conn) -> None:  # noqa: ANN001
        commits.append(conn)

    event.listen(bot.services.store.engine, "commit", committed)
    try:
        poll_once(bot.services)
    finally:
        event.remove(bot.services.store.engine, "commit", committed)
    # The plan, each poll thread's first claim, one per connection (its answer, its claim given
    # back and the thread's next claim), the pushed runs' sweep: a claim of its own per
    # connection made that twice the connections.
    assert len(commits) == 1 + POOL_SIZE + len(names) + 1
    with bot.services.store.tx() as s:
        polled = s.scalars(select(claims.ConnectionPoll.polled_at)).all()
    assert len(polled) == len(names) and set(polled) == {bot.clock()}
