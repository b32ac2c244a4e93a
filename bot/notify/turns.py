"""Which due outbox rows a claim takes, in round-robin order over channels, at a cost that does
not grow with the backlog (issue 13).

Ranking every due row with row_number() cost time in proportion to the rows queued, so after a
long Slack outage draining a backlog was quadratic. The round-robin order is decided by few rows:
a batch of `limit` takes its channels among the `limit` whose first due row comes first (served
ones after the others), and of each of those k channels at most limit - k + 1 rows. So one
statement walks the index ix_outbox_queue (team_id, channel_id, id, of unsent rows only):
1. `channels`: the distinct channels with unsent rows, one index probe each (a skip scan, as
   PostgreSQL and SQLite have no loose index scan of their own);
2. `firsts`: each one's first due row, one probe each, and the `limit` channels that go first;
3. `queue`: from each first row, the channel's next due rows, one probe each, up to its share.
Its cost is in proportion to the channels with unsent rows and the rows returned, however many
rows each channel has queued.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    case,
    false,
    func,
    literal,
    literal_column,
    select,
    true,
    tuple_,
)
from sqlalchemy.orm import Session

from bot.store.models import Outbox, UTCDateTime

RATELIMITED = "ratelimited"  # the error of a row put off by a 429: its channel waits as a whole
OUTBOX: Table = Outbox.__table__  # type: ignore[assignment]
NOW = bindparam("now", type_=UTCDateTime())  # converted as the columns are: naive UTC
LIMIT = bindparam("limit", type_=Integer())
# LIMIT 1 written out, not a parameter: in a generic plan PostgreSQL guesses an unknown LIMIT at a
# tenth of the rows, and its estimates for the recursion grew to billions, which set JIT compiling
# (measured: 0.6 s of a 0.64 s claim).
ONE = literal_column("1", Integer())


def due(now: datetime | BindParameter, table: Any = OUTBOX) -> Any:
    """Rows to send now: queued and due, or claimed by a sender whose claim ran out. A CASE, which
    no index serves: the statements asking it find their rows by id or through ix_outbox_queue,
    and a planner misjudging the rows (no statistics yet, a generic plan) chose to read every
    pending row through ix_outbox_due for it instead (measured: 5,000 rows each probe)."""
    c = table.c
    return case((c.status == "pending", c.not_before <= now),
                (c.status == "sending", and_(c.not_before <= now, c.claimed_until < now)), else_=false())


def unsent(table: Any) -> Any:
    """The predicate of ix_outbox_queue (bot/store/models.py OUTBOX_UNSENT), written as literals: the
    planners use a partial index only for a query whose WHERE has its predicate's very terms
    (SQLite), or one they can prove implies it without knowing a parameter's value (PostgreSQL's
    generic plans)."""
    return table.c.status.not_in([literal_column("'sent'"), literal_column("'failed'")])


def round_robin(session: Session, now: datetime, limit: int, skip_teams: Sequence[str],
                skip_channels: Sequence[tuple[str, str]], served: Sequence[tuple[str, str]]) -> list[Any]:
    """(id, team_id, channel_id) of the rows to claim, in claim order (outbox.claim)."""
    lists = {"skip_teams": skip_teams, "skip_channels": skip_channels, "served": served}
    stmt = _statement(session.get_bind().dialect.name == "postgresql", *(bool(v) for v in lists.values()))
    params = {"now": now, "limit": limit, **{name: list(v) for name, v in lists.items() if v}}
    return list(session.execute(stmt, params))


@cache
def _statement(postgres: bool, skip_teams: bool, skip_channels: bool, served: bool) -> Select:
    """Built once for each kind of claim: building the statement took longer than running it."""
    channels = _channels(postgres)
    firsts = _firsts(channels, postgres, skip_teams, skip_channels, served)
    queue = _queue(firsts, postgres)
    return (select(queue.c.id, queue.c.team_id, queue.c.channel_id)
            .order_by(queue.c.turn, queue.c.again, queue.c.id).limit(LIMIT))


def _in_queue(table: Any) -> tuple[Any, ...]:
    return table.c.team_id, table.c.channel_id, table.c.id  # ix_outbox_queue's order


def _after(table: Any, team_id: Any, channel_id: Any, row_id: Any, postgres: bool) -> tuple[Any, ...]:
    """The channel's rows queued after `row_id`, as a range of ix_outbox_queue. On PostgreSQL not
    as team_id = and channel_id =: with those it orders by id alone and, reckoning a channel's rows
    spread evenly through the table, walks the primary key instead, through every other channel's
    rows (measured: 50,000 rows read to find the first of a channel queued after them). SQLite
    seeks a row-value range by its first column only (then reads the whole team), so there the
    equalities, which it does seek by."""
    c = table.c
    if postgres:
        return (tuple_(c.team_id, c.channel_id, c.id) > tuple_(team_id, channel_id, row_id),
                tuple_(c.team_id, c.channel_id) <= tuple_(team_id, channel_id))
    return c.team_id == team_id, c.channel_id == channel_id, c.id > row_id


def _channels(postgres: bool) -> Any:
    """Every (team_id, channel_id) with unsent rows, each found from the one before it, with the
    id of its first unsent row and whether that row is due (mostly it is, and no more is read)."""
    o = OUTBOX.alias("o")
    first = (select(o.c.team_id, o.c.channel_id, o.c.id, _is_due(o)).where(unsent(o))
             .order_by(*_in_queue(o)).limit(ONE))
    start = first.subquery("start")  # SQLite takes no LIMIT on a bare part of a compound select
    channels = select(start).cte("channels", recursive=True)
    if postgres:  # LATERAL: a join by id could be planned as a hash join over the whole table
        after = OUTBOX.alias("after")
        beyond = tuple_(after.c.team_id, after.c.channel_id) > tuple_(channels.c.team_id, channels.c.channel_id)
        found = (select(after.c.team_id, after.c.channel_id, after.c.id, _is_due(after)).where(unsent(after), beyond)
                 .order_by(*_in_queue(after)).limit(ONE).lateral("found"))
        return channels.union_all(select(found).select_from(channels.join(found, true())))
    n = OUTBOX.alias("n")
    # The team's next channel, else the next team's first: two seeks by equality and range, which
    # SQLite makes (it would not seek by a row value such as (team_id, channel_id) > ...).
    next_id = func.coalesce(_first_unsent(lambda t: (t.c.team_id == channels.c.team_id,
                                                     t.c.channel_id > channels.c.channel_id)),
                            _first_unsent(lambda t: (t.c.team_id > channels.c.team_id,)))
    return channels.union_all(select(n.c.team_id, n.c.channel_id, n.c.id, _is_due(n))
                              .select_from(channels.join(n, n.c.id == next_id)))


def _first_unsent(where: Callable[[Any], tuple[Any, ...]]) -> Any:
    after = OUTBOX.alias("after")
    return select(after.c.id).where(unsent(after), *where(after)).order_by(*_in_queue(after)).limit(ONE).scalar_subquery()


def _is_due(table: Any) -> Any:
    return case((due(NOW, table), 1), else_=0).label("is_due")


def _firsts(channels: Any, postgres: bool, skip_teams: bool, skip_channels: bool, served: bool) -> Any:
    """The `limit` channels whose turn comes first: each with its first due row, whether it was
    served last batch, and its share (how many of its rows the batch can take at most)."""
    f = OUTBOX.alias("f")
    key = tuple_(channels.c.team_id, channels.c.channel_id)
    later = (select(f.c.id).where(*_after(f, channels.c.team_id, channels.c.channel_id, channels.c.id, postgres),
                                  unsent(f), due(NOW, f)).order_by(*_in_queue(f)).limit(ONE).scalar_subquery())
    first_id = case((channels.c.is_due == 1, channels.c.id), else_=later)
    w = OUTBOX.alias("w")
    # A channel with a row waiting out a 429: read through ix_outbox_due, only rows not due yet.
    # Not channels with rows in flight: a one-shot sender (a button's deliver_now) holding a
    # channel would leave a row queued meanwhile to the next tick, 2 s later.
    waiting = select(w.c.team_id, w.c.channel_id).where(w.c.status == "pending", w.c.not_before > NOW,
                                                        w.c.error == RATELIMITED)
    where = [key.not_in(waiting)]
    if skip_teams:
        where.append(channels.c.team_id.not_in(bindparam("skip_teams", expanding=True)))
    if skip_channels:
        where.append(key.not_in(bindparam("skip_channels", expanding=True)))
    again = case((key.in_(bindparam("served", expanding=True)), 1), else_=0) if served else literal(0)
    # MATERIALIZED: computed once, or a planner may inline it and run the probe once per use.
    heads = (select(channels.c.team_id, channels.c.channel_id, first_id.label("first_id"), again.label("again"))
             .where(*where).cte("heads").prefix_with("MATERIALIZED"))
    ready = func.count().over()  # channels with a due row
    share = case((ready >= LIMIT, 1), else_=LIMIT - ready + 1)
    return (select(heads.c.team_id, heads.c.channel_id, heads.c.first_id, heads.c.again, share.label("share"))
            .where(heads.c.first_id.is_not(None)).order_by(heads.c.again, heads.c.first_id).limit(LIMIT)
            .cte("firsts"))


def _queue(firsts: Any, postgres: bool) -> Any:
    """From each first row, the channel's next due rows in queue order, numbered by turn, up to
    its share; a channel whose rows run out ends on a row with no id."""
    start = select(firsts.c.first_id.label("id"), firsts.c.team_id, firsts.c.channel_id, firsts.c.again,
                   literal(1).label("turn"), firsts.c.share)
    queue = start.cte("queue", recursive=True)
    nxt = OUTBOX.alias("nxt")
    following = (select(nxt.c.id).where(*_after(nxt, queue.c.team_id, queue.c.channel_id, queue.c.id, postgres),
                                         unsent(nxt), due(NOW, nxt))
                 .order_by(*_in_queue(nxt)).limit(ONE).scalar_subquery())
    step = select(following, queue.c.team_id, queue.c.channel_id, queue.c.again, queue.c.turn + 1, queue.c.share)
    step = step.where(queue.c.id.is_not(None), queue.c.turn < queue.c.share)
    queue = queue.union_all(step)
    return select(queue).where(queue.c.id.is_not(None)).subquery("turns")

