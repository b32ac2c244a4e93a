"""What a standup round and a digest cost the database as they grow (issue 13): a round for more
people adds their answer rows and their DMs, never a round trip or a transaction per person, and
a digest of more running runs reads its forecasts' runs, targets and points in the same few
queries. The DMs of one person go to the DM channel Slack opened once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, select

from bot.jobs.digests import post_digest
from bot.jobs.standup_rounds import open_now
from bot.jobs.standups import standup_tick
from bot.notify.dispatch import Dispatcher
from bot.sandbox.world import BOT_USER_ID, TEAM_ID
from bot.store.models import Connection, Run, Target, Watch, WatchRun

MONDAY = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # working hours in every zone used below


@contextmanager
def statements(bot) -> Iterator[list[str]]:  # noqa: ANN001
    """The SQL statements the engine sends meanwhile, one line each."""
    seen: list[str] = []

    def note(conn, cursor, statement, *args):  # noqa: ANN001, ANN002
        seen.append(" ".join(statement.split()))
    engine = bot.services.store.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def channel_of(bot, channel_id: str, people: int) -> str:  # noqa: ANN001
    members = [f"U{channel_id}{i:02d}" for i in range(people)]
    for i, user in enumerate(members):
        bot.fake.add_user(user, f"{channel_id.lower()}-{i}", tz=("Europe/Berlin", "UTC")[i % 2])
    bot.fake.add_channel(channel_id, channel_id.lower(), [BOT_USER_ID, *members])
    return members[0]


def standup_cost(bot, channel_id: str, people: int) -> int:  # noqa: ANN001
    asker = channel_of(bot, channel_id, people)
    with statements(bot) as seen:
        opened = open_now(bot.services, TEAM_ID, channel_id, asker, MONDAY)
        standup_tick(bot.services)
    assert opened is not None and opened.asked == people
    return len(seen)


def test_a_standup_for_more_people_costs_their_rows_not_round_trips_each(bot):
    bot.clock.now = MONDAY
    small, large = standup_cost(bot, "CSMALL", 3), standup_cost(bot, "CLARGE", 23)
    bot.deliver()
    assert len(bot.fake.messages("UCLARGE22")) == 1 and len(bot.fake.messages("UCSMALL02")) == 1
    # Per extra person: their queued DM (the answer rows are one insert); and the small round,
    # still open, is looked at again by the second tick (a few reads).
    assert large - small <= 20 + 5, (small, large)


def test_the_prompt_and_the_reminder_of_one_person_open_their_dm_channel_once(bot):
    bot.clock.now = MONDAY
    channel_of(bot, "CDM", 3)
    dispatcher = Dispatcher(bot.services.store, bot.services.clients, bot.clock)
    open_now(bot.services, TEAM_ID, "CDM", "UCDM00", MONDAY)
    standup_tick(bot.services)
    dispatcher.drain()
    bot.clock.now = MONDAY + timedelta(hours=3, minutes=30)  # the reminder, an hour before the window closes
    standup_tick(bot.services)
    dispatcher.drain()
    assert all(len(bot.fake.messages(f"UCDM0{i}")) == 2 for i in range(3))  # prompt and reminder
    assert len(bot.fake.calls("conversations.open")) == 3


def running_runs(bot, channel_id: str, count: int) -> None:  # noqa: ANN001
    with bot.services.store.tx() as s:
        conn = Connection(team_id=TEAM_ID, name=f"push-{channel_id}", kind="push", created_at=MONDAY)
        s.add(conn)
        s.add(Target(team_id=TEAM_ID, channel_id=channel_id, metric="val_acc", op=">=", threshold=0.9,
                     created_at=MONDAY))
        s.flush()
        for i in range(count):
            run = Run(connection_id=conn.id, ref=f"{channel_id}-{i}", name=f"run-{i}", state="running", step=10 * i,
                      metrics={"val_acc": 0.5}, progress_at=MONDAY, created_at=MONDAY, updated_at=MONDAY)
            watch = Watch(team_id=TEAM_ID, channel_id=channel_id, connection_id=conn.id, ref=run.ref,
                          created_at=MONDAY)
            s.add_all([run, watch])
            s.flush()
            s.add(WatchRun(watch_id=watch.id, run_id=run.id))


def digest_cost(bot, channel_id: str, count: int) -> int:  # noqa: ANN001
    running_runs(bot, channel_id, count)
    with statements(bot) as seen:
        assert post_digest(bot.services, TEAM_ID, channel_id, "2026-11-23", MONDAY)
    return len(seen)


def test_a_digest_of_more_running_runs_reads_them_in_the_same_queries(bot):
    few, many = digest_cost(bot, "CFEW", 2), digest_cost(bot, "CMANY", 20)
    assert many == few, (few, many)
    with bot.services.store.tx() as s:
        assert s.scalar(select(Run.id).where(Run.ref == "CMANY-19")) is not None
