"""Pushed runs keep a bounded metric history: the newest MAX_POINTS steps per (run, key)."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.store import points
from bot.store import runs as q
from bot.store.models import Connection, RunPoint
from integrations.base import RunSnapshot, RunState
from tests.conftest import T0


def make_run(store) -> tuple[int, int]:
    """(connection id, run id) of a pushed run `r1`."""
    with store.tx() as s:
        conn = Connection(team_id="T1", name="trainer", kind="push", created_at=T0)
        s.add(conn)
        s.flush()
        run, _ = q.ensure_run(s, conn.id, RunSnapshot(ref="r1", state=RunState.RUNNING), T0)
        return conn.id, run.id


def test_the_cap_keeps_the_newest_steps_of_each_metric(store):
    _, run_id = make_run(store)
    total = points.MAX_POINTS + 10
    with store.tx() as s:
        for step in range(total):
            points.record(s, run_id, {"loss": 1.0 / (step + 1), "lr": 0.1}, step, T0)
        points.record(s, run_id, {"acc": 0.5}, None, T0)  # no step: cannot be ordered, not kept
    with store.tx() as s:
        points.record(s, run_id, {"loss": 99.0, "acc": float("nan")}, total - 1, T0)  # a repeat keeps the first
        counts = dict(s.execute(select(RunPoint.key, func.count()).group_by(RunPoint.key)).all())
        assert counts == {"loss": points.MAX_POINTS, "lr": points.MAX_POINTS}
        kept = points.history(s, [run_id], "loss")[run_id]
    assert [p.step for p in kept] == list(range(10, total))
    assert kept[-1].value == 1.0 / total


def test_history_from_a_step_on(store):
    conn_id, run_id = make_run(store)
    with store.tx() as s:
        for step in (3, 1, 2):
            points.record(s, run_id, {"loss": float(step)}, step, T0)
    with store.tx() as s:
        assert [(p.step, p.value) for p in points.history(s, [run_id], "loss", 2)[run_id]] == [(2, 2.0), (3, 3.0)]
        assert points.history(s, [run_id], "acc") == {}
    read = points.reader(store, conn_id)
    assert [p.step for p in read(["r1", "nope"], "loss")["r1"]] == [1, 2, 3]
