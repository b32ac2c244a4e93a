"""Issue 13: after a long Slack outage the outbox holds a backlog, and a claim must cost what it
takes, not what is queued (each claim ranked every due row, so draining the backlog was quadratic),
while keeping its round-robin: the first due row of every channel before the second of any."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, update

from bot.notify import outbox
from bot.store.models import Outbox
from tests.db_reads import rows_read
from tests.integration.test_outbox import dispatcher, run_payload
from tests.integration.test_outbox_claims import _channels, _order, _texts

TEAM = "T0SANDBOX"


def backlog(services, busy: str, count: int, lone: str) -> None:  # noqa: ANN001
    """`count` rows for the busy channel, queued first, then one for the lone channel."""
    rows = [outbox.Queued(f"{busy}-{n}", TEAM, busy, "run_event", run_payload(f"{busy}-run-{n}"))
            for n in range(count)]
    rows.append(outbox.Queued("lone", TEAM, lone, "run_event", run_payload(f"{lone}-run-0")))
    with services.store.tx() as s:
        outbox.enqueue_many(s, rows, services.clock())


def test_the_one_row_channel_goes_out_in_the_first_batch_behind_a_backlog(services, fake_slack):
    busy, lone = _channels(fake_slack, 2)
    backlog(services, busy, 600, lone)
    sender = dispatcher(services)
    assert sender.run_once(limit=50) == 50
    assert len(_texts(fake_slack, lone)) == 1
    assert _order(fake_slack, busy) == list(range(49))  # the rest of the batch, in queue order


def claim_cost(services, count: int) -> int:  # noqa: ANN001
    with services.store.tx() as s:
        s.execute(delete(Outbox))
    backlog(services, "CBUSY", count, "CLONE")
    if services.store.is_postgres:  # as autovacuum does while a backlog builds up: the rows deleted
        with services.store.engine.connect() as conn:  # are not read again, and the plans know the table
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE outbox")
    with services.store.tx() as s:
        with rows_read(s, "outbox") as read:
            rows = outbox.claim(s, services.clock(), 50)
        assert [row.channel_id for row in rows].count("CLONE") == 1
    return read[0]


def test_a_claim_reads_no_more_with_a_backlog_of_10000_than_of_500(services):
    """Before: 10,000 rows queued cost a claim 7 (PostgreSQL) to 17 (SQLite) times what 500 did."""
    small, large = claim_cost(services, 500), claim_cost(services, 10_000)
    assert large <= 1.5 * small, (small, large)


STATES = ["due", "due", "due", "later", "ratelimited", "waited", "held", "abandoned", "sent", "failed"]


def set_state(session, key: str, state: str, now) -> None:  # noqa: ANN001
    """Put one row in a state a queue reaches: retried later, waiting out a 429, claimed..."""
    values = {
        "due": {},
        "later": {"not_before": now + timedelta(seconds=60), "error": "internal_error"},
        "ratelimited": {"not_before": now + timedelta(seconds=30), "error": outbox.RATELIMITED},
        "waited": {"error": outbox.RATELIMITED},  # its 429's pause is over
        "held": {"status": "sending", "claimed_until": now + timedelta(seconds=10)},
        "abandoned": {"status": "sending", "claimed_until": now - timedelta(seconds=1)},
        "sent": {"status": "sent"},
        "failed": {"status": "failed"},
    }[state]
    if values:
        session.execute(update(Outbox).where(Outbox.dedupe_key == key).values(**values))


def expected(rows: list[tuple[str, str, str]], limit: int, skip_teams: set[str],
             skip_channels: set[tuple[str, str]], served: set[tuple[str, str]]) -> list[str]:
    """The claim's rules, the docstring's way: rank each channel's due rows, then take turn by turn."""
    waiting = {(team, channel) for team, channel, state in rows if state == "ratelimited"}
    turns: dict[tuple[str, str], int] = {}
    ranked = []
    for n, (team, channel, state) in enumerate(rows):
        key = (team, channel)
        if state not in ("due", "waited", "abandoned") or team in skip_teams or key in skip_channels \
                or key in waiting:
            continue
        turns[key] = turns.get(key, 0) + 1
        ranked.append(((turns[key], key in served, n), f"k{n}"))
    return [name for _, name in sorted(ranked)[:limit]]


channel_keys = st.tuples(st.sampled_from(["T1", "T2"]), st.sampled_from(["C1", "C2", "C3", "C4"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(channel_keys, st.sampled_from(STATES)), max_size=30),
       limit=st.integers(1, 12), skip_teams=st.sets(st.sampled_from(["T1", "T2"]), max_size=1),
       skip_channels=st.sets(channel_keys, max_size=2), served=st.sets(channel_keys, max_size=3))
def test_a_claim_takes_the_rows_the_round_robin_rules_name(services, rows, limit, skip_teams, skip_channels,
                                                           served):
    now = services.clock()
    flat = [(team, channel, state) for (team, channel), state in rows]
    with services.store.tx() as s:
        s.execute(delete(Outbox))
        outbox.enqueue_many(s, [outbox.Queued(f"k{n}", team, channel, "run_event", {})
                                for n, (team, channel, _state) in enumerate(flat)], now - timedelta(minutes=5))
        for n, (_team, _channel, state) in enumerate(flat):
            set_state(s, f"k{n}", state, now)
    with services.store.tx() as s:
        claimed = [row.dedupe_key for row in outbox.claim(s, now, limit, skip_teams, skip_channels, served)]
    assert claimed == expected(flat, limit, skip_teams, skip_channels, served)
