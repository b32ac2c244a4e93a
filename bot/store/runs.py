"""Queries about connections, runs and the channels that watch them."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from json.decoder import scanstring
from types import MappingProxyType
from typing import Any

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    Text,
    bindparam,
    cast,
    exists,
    func,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from bot.core.eta import estimate_eta
from bot.store.crypto import SecretBox
from bot.store.models import (
    Connection,
    Review,
    ReviewRun,
    Run,
    StopRequest,
    Target,
    UTCDateTime,
    Watch,
    WatchRun,
)
from bot.store.run_batch import modified
from bot.store.sets import chunks, one_of_param
from integrations.base import ConnectionInfo, RunSnapshot, RunState


def connection_info(conn: Connection, box: SecretBox) -> ConnectionInfo:
    secret = box.open(conn.secret_sealed) if conn.secret_sealed else None
    options = {str(k): str(v) for k, v in (conn.options or {}).items()}
    return ConnectionInfo(kind=conn.kind, name=conn.name, url=conn.url, secret=secret, options=options)


def find_connection(s: Session, team_id: str, name: str) -> Connection | None:
    """By name, ignoring case (people type `MLflow:` as often as `mlflow:`); an exact match wins."""
    rows = list(s.scalars(select(Connection).where(Connection.team_id == team_id,
                                                   func.lower(Connection.name) == name.lower())))
    return next((c for c in rows if c.name == name), rows[0] if rows else None)


def team_connections(s: Session, team_id: str) -> list[Connection]:
    return list(s.scalars(select(Connection).where(Connection.team_id == team_id).order_by(Connection.name)))


def get_run(s: Session, connection_id: int, ref: str) -> Run | None:
    return s.scalar(select(Run).where(Run.connection_id == connection_id, Run.ref == ref))


def runs_by_ref(s: Session, connection_id: int, refs: Iterable[str]) -> dict[str, Run]:
    """Many runs of one connection in one query (one array parameter on PostgreSQL, so its
    plan does not depend on how many refs are asked; bot/store/sets.py)."""
    found: dict[str, Run] = {}
    query = _runs_by_ref(s.get_bind().dialect.name)
    for chunk in chunks(s, list(dict.fromkeys(refs))):
        if chunk:
            found.update({r.ref: r for r in s.scalars(query, {"connection_id": connection_id, "refs": chunk})})
    return found


@functools.cache
def _runs_by_ref(dialect: str):  # noqa: ANN202 - a SQLAlchemy Select
    # Built once per database kind: each poll of a connection runs it, and building it anew cost
    # a fifth of what sending it did.
    return select(Run).where(Run.connection_id == bindparam("connection_id", type_=Integer()),
                             one_of_param(dialect, Run.ref, "refs", String()))


MAX_METRICS = 500  # latest value per key kept on the run; pushed updates merge into it
# A pushed run's owner is whatever the script sent: kept cut to the column, which PostgreSQL
# enforces (a longer one was a 500 there; SQLite stored it whole).
MAX_OWNER = Run.__table__.c.owner.type.length


def apply_snapshot(run: Run, snap: RunSnapshot, now: datetime, partial: bool = False) -> None:
    """Copy a snapshot's facts onto the stored run (state is decided by the caller).

    partial: the snapshot is an update that carries only what changed (a pushed update: a
    final `{"state": "finished"}` must not wipe the run's metrics, step or expected total);
    a polled snapshot is the tracker's whole view and replaces what was stored."""
    for column, value in snapshot_values(run, snap, partial).items():
        setattr(run, column, value)


def snapshot_values(run: Run, snap: RunSnapshot, partial: bool = False) -> dict[str, Any]:
    """What apply_snapshot sets on the run, column -> value, without setting it: the poll compares
    these with what is stored and gives the run only those that differ (run_batch.assign)."""
    metrics = {k: _jsonable(v) for k, v in snap.metrics.items()}
    params = {str(k): str(v)[:500] for k, v in list(snap.params.items())[:200]}
    if partial:
        metrics = {**(run.metrics or {}), **metrics}
        params = {**(run.params or {}), **params}
    return {
        "name": snap.name or run.name,
        "experiment": snap.experiment or run.experiment,
        "step": snap.step if snap.step is not None or not partial else run.step,
        "total_steps": snap.total_steps if snap.total_steps is not None or not partial else run.total_steps,
        "metrics": dict(list(metrics.items())[-MAX_METRICS:]),
        "params": dict(list(params.items())[-200:]),
        "started_at": snap.started_at or run.started_at,
        "ended_at": snap.ended_at if snap.ended_at is not None or not partial else run.ended_at,
        "heartbeat_at": snap.heartbeat_at,
        "owner": (snap.owner or "")[:MAX_OWNER] or run.owner,
        "url": snap.url or run.url,
        "stale_since": None,
        "last_error": None,
        "missing_since": None,  # seen again: an unconfirmed absence is forgotten
        "missing_polls": 0,
    }


def touch(s: Session, run: Run, now: datetime) -> None:
    """Stamp a run that changed: a poll that changes nothing writes nothing (each UPDATE of an
    unchanged row would be a dead tuple on PostgreSQL). Its freshness is its connection's last
    successful poll (connection_polls.polled_at), which mark_stale copies when it goes stale."""
    if run not in s or modified(s, run):
        run.polled_at = now
        run.updated_at = now


def _jsonable(value: float) -> float | str:
    # JSON has no NaN/inf; keep them as strings so "loss is NaN" stays visible.
    f = float(value)
    return f if f == f and f not in (float("inf"), float("-inf")) else str(f)



def ensure_run(s: Session, connection_id: int, snap: RunSnapshot, now: datetime) -> tuple[Run, bool]:
    run = get_run(s, connection_id, snap.ref)
    if run is not None:
        return run, False
    run = Run(
        connection_id=connection_id,
        ref=snap.ref,
        state=snap.state.value,
        active=True,
        progress_at=now,
        created_at=now,
        updated_at=now,
        polled_at=now,
    )
    apply_snapshot(run, snap, now)
    if snap.state == RunState.RUNNING:
        # A run first seen mid-way already has an ETA: a review asking at once needs it.
        run.eta = estimate_eta(run.step, run.total_steps, run.started_at, now)
    s.add(run)
    s.flush()
    return run, True


def link(s: Session, watch: Watch, run: Run) -> None:
    if s.get(WatchRun, (watch.id, run.id)) is None:
        s.add(WatchRun(watch_id=watch.id, run_id=run.id))


def channels_of(s: Session, run_id: int) -> list[tuple[str, str]]:
    """(team_id, channel_id) of every channel watching the run, each once."""
    rows = s.execute(
        select(Watch.team_id, Watch.channel_id)
        .join(WatchRun, WatchRun.watch_id == Watch.id)
        .where(WatchRun.run_id == run_id)
        .distinct()
        .order_by(Watch.channel_id)
    )
    return [(r[0], r[1]) for r in rows]


def watchers_of_runs(s: Session, run_ids: Iterable[int], review_states: Collection[str]
                     ) -> tuple[dict[int, list[tuple[str, str]]], dict[int, list[int]]]:
    """For many runs at once: the channels watching each (as channels_of) and its reviews in
    `review_states`, in one statement per chunk. A poll that finishes runs needs both for all of
    its answer's runs; two queries were two of the eight statements of recording such an answer."""
    channels: dict[int, set[tuple[str, str]]] = {}
    reviews: dict[int, list[int]] = {}
    query = _watchers(s.get_bind().dialect.name)
    for chunk in chunks(s, list(run_ids), uses=2):  # the chunk is bound twice
        found = s.execute(query, {"watched": chunk, "reviewed": chunk, "states": list(review_states)})
        for run_id, team_id, channel_id, review_id in found:
            if review_id is None:
                channels.setdefault(run_id, set()).add((team_id, channel_id))
            else:
                reviews.setdefault(run_id, []).append(review_id)
    return {run_id: sorted(pairs, key=lambda p: p[1]) for run_id, pairs in channels.items()}, reviews


@functools.cache
def _watchers(dialect: str):  # noqa: ANN202 - a SQLAlchemy CompoundSelect
    # Built once per database kind: building it anew was most of what reading it cost us.
    watched = (select(WatchRun.run_id, Watch.team_id, Watch.channel_id, null().label("review_id"))
               .join(WatchRun, WatchRun.watch_id == Watch.id)
               .where(one_of_param(dialect, WatchRun.run_id, "watched", Integer())))
    reviewed = (select(ReviewRun.run_id, null(), null(), Review.id)
                .join(ReviewRun, ReviewRun.review_id == Review.id)
                .where(one_of_param(dialect, ReviewRun.run_id, "reviewed", Integer()),
                       Review.state.in_(bindparam("states", expanding=True))))
    return union_all(watched, reviewed)


def channel_run_ids(team_id, channel_id):  # noqa: ANN001, ANN201 - values or bindparams; a SQLAlchemy select
    """The ids of the channel's runs, as a subquery for `Run.id.in_(...)`."""
    return (select(WatchRun.run_id).join(Watch, Watch.id == WatchRun.watch_id)
            .where(Watch.team_id == team_id, Watch.channel_id == channel_id))


def channel_runs(s: Session, team_id: str, channel_id: str) -> list[tuple[Run, Connection]]:
    """Every run of the channel as ORM objects, JSON and all: for code that changes them.
    Listings read channel_run_page instead, which loads only what they show."""
    rows = s.execute(
        select(Run, Connection)
        .join(Connection, Connection.id == Run.connection_id)
        .where(Run.id.in_(channel_run_ids(team_id, channel_id)))  # IN, not DISTINCT: PostgreSQL json has no equality
        .order_by(Run.created_at, Run.id)
    )
    return [(r[0], r[1]) for r in rows]


@dataclass(frozen=True)
class ListedRun:
    """A run as a listing line shows it (bot/handlers/tracking.py run_line): no params, no ORM."""

    id: int
    ref: str
    name: str | None
    state: str
    url: str | None
    step: int | None
    total_steps: int | None
    eta: datetime | None
    metrics: Mapping[str, Any] | None  # the first SHOWN_METRICS, read-only
    last_error: str | None
    missing_since: datetime | None
    polled_at: datetime | None
    stale_since: datetime | None
    heartbeat_at: datetime | None
    progress_at: datetime | None
    connection: str  # the connection's name
    kind: str  # the connection's kind: whether the run can be stopped from Slack
    stop_requested_by: str | None  # the Slack user who asked from Slack that it stop


@dataclass(frozen=True)
class RunPage:
    runs: tuple[ListedRun, ...]
    total: int  # runs in the channel, on every page
    has_targets: bool = False  # whether the channel has a target (then running runs show a forecast)


SHOWN_METRICS = 3  # a listing line shows the run's first few metrics, in the tracker's order
_FIELDS = [f.name for f in fields(ListedRun)]
_METRICS_AT = _FIELDS.index("metrics")
# In ListedRun's field order, so a row becomes one without a dict per row.
_JOINED = {"connection": Connection.name, "kind": Connection.kind, "stop_requested_by": StopRequest.requested_by}
# The times are read as the driver's naive UTC and made aware in _listed: through UTCDateTime
# each value cost three Python calls, a tenth of reading the page.
_TIMES = [i for i, name in enumerate(_FIELDS) if name in Run.__table__.c
          and isinstance(Run.__table__.c[name].type, UTCDateTime)]
_LISTED = [cast(Run.metrics, Text) if name == "metrics" else _JOINED[name] if name in _JOINED
           else type_coerce(getattr(Run, name), DateTime()) if i in _TIMES
           else getattr(Run, name) for i, name in enumerate(_FIELDS)]


def leading_items(raw: str | None, n: int) -> dict[str, Any]:
    """The first n members of a JSON object, read from its text without decoding the rest.

    A run carries up to MAX_METRICS metrics and a listing line shows SHOWN_METRICS of them:
    decoding every metric of every listed run was most of `/ready runs`' CPU, and cutting them
    in SQL is worse (PostgreSQL's json_each expands the whole object for each row). The stored
    text keeps the tracker's order on both databases (PostgreSQL `json` keeps its input text,
    https://www.postgresql.org/docs/current/datatype-json.html)."""
    if not raw:
        return {}
    try:
        return _leading(raw, n)
    except (ValueError, IndexError):  # not the object text json.dumps writes: decode it whole
        decoded = json.loads(raw)
        return dict(list(decoded.items())[:n]) if isinstance(decoded, dict) else {}


_SPACE = re.compile(r"[ \t\n\r]*")
_VALUES = json.JSONDecoder()


def _leading(raw: str, n: int) -> dict[str, Any]:
    pos = _SPACE.match(raw).end()
    if raw[pos] != "{":
        raise ValueError("not an object")
    out: dict[str, Any] = {}
    pos += 1
    while len(out) < n:
        pos = _SPACE.match(raw, pos).end()
        if raw[pos] == "}":
            break
        if raw[pos] != '"':
            raise ValueError("expected a key")
        key, pos = scanstring(raw, pos + 1)
        pos = _SPACE.match(raw, pos).end()
        if raw[pos] != ":":
            raise ValueError("expected ':'")
        out[key], pos = _VALUES.raw_decode(raw, _SPACE.match(raw, pos + 1).end())
        pos = _SPACE.match(raw, pos).end()
        if raw[pos] != ",":
            break
        pos += 1
    return out


def channel_run_page(s: Session, team_id: str, channel_id: str, limit: int, offset: int = 0) -> RunPage:
    """One page of the channel's runs, oldest first, with their stop requests, how many there
    are and whether the channel has a target, in one query whose cost is the page's however many
    runs the channel tracks (the count is a window over the same rows). A page past the end has
    no row to carry the count: then it is counted alone."""
    keys = {"team_id": team_id, "channel_id": channel_id}
    # Through the connection: a plain-column select needs none of the ORM's result handling.
    rows = s.connection().execute(_PAGE, {**keys, "limit": limit, "offset": offset}).all()
    if not rows:
        total = s.scalar(select(func.count()).select_from(_channel_run_ids_param().distinct().subquery()), keys)
        return RunPage((), total or 0)
    return RunPage(tuple(_listed(row) for row in rows), rows[0].total, bool(rows[0].has_targets))


def _listed(row) -> ListedRun:  # noqa: ANN001 - a Row of _PAGE
    return _kept_listed(tuple(row[:-2]))  # the last columns are has_targets and the total


@functools.lru_cache(maxsize=1024)
def _kept_listed(values: tuple) -> ListedRun:
    """A page's row as a ListedRun, kept by the row's values: a listing asked again reads the
    same rows (a poll that brings anything new changes the row, and so the key), and hashing a
    row costs a fraction of making one (its first metrics parsed from the text, its times made
    aware, a frozen dataclass built). The next listing gets the same object, so its metrics are
    read-only; 1024 rows of a few kB each (40 listed runs in 25 channels)."""
    row = list(values)
    raw = row[_METRICS_AT]
    row[_METRICS_AT] = MappingProxyType(leading_items(raw, SHOWN_METRICS) if raw else {})
    for i in _TIMES:
        if row[i] is not None:
            row[i] = row[i].replace(tzinfo=UTC)
    return ListedRun(*row)


def _channel_run_ids_param():  # noqa: ANN202 - a SQLAlchemy select
    return channel_run_ids(bindparam("team_id", type_=String()), bindparam("channel_id", type_=String()))


# Built once, with bound parameters: building it anew for each request cost as much CPU as running
# it (SQLAlchemy caches the compiled form either way). The count is a window over the same rows;
# whether the channel has a target rides along on each row, so a listing without one is one query.
# The page's ids are picked (and counted) first, and only its runs are read whole: counting and
# sorting the wide rows made PostgreSQL detoast the metrics of every run of the channel (6 of
# the query's 7 ms at 200 runs, EXPLAIN ANALYZE), to show 40.
_HAS_TARGETS = exists(select(Target.id).where(Target.team_id == bindparam("team_id", type_=String()),
                                              Target.channel_id == bindparam("channel_id", type_=String())))
_PAGE_IDS = (
    select(Run.id.label("id"), Run.created_at.label("created_at"), func.count().over().label("total"))
    .where(Run.id.in_(_channel_run_ids_param()))
    .order_by(Run.created_at, Run.id)
    .limit(bindparam("limit", type_=Integer())).offset(bindparam("offset", type_=Integer()))
).subquery("page")
_PAGE = (
    select(*_LISTED, _HAS_TARGETS.label("has_targets"), _PAGE_IDS.c.total)
    .select_from(_PAGE_IDS)
    .join(Run, Run.id == _PAGE_IDS.c.id)
    .join(Connection, Connection.id == Run.connection_id)
    .outerjoin(StopRequest, StopRequest.run_id == Run.id)  # one row per run at most (unique)
    .order_by(_PAGE_IDS.c.created_at, _PAGE_IDS.c.id)
)
