"""How the poller asks for target history: only new steps, nothing for idle runs, the whole
history only when a crossing needs a chart. The tracker is a recording stand-in at the one seam
the code uses (Tracker.metric_history); points follow the contract in integrations/base.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.jobs.answers import Answer, Work
from bot.jobs.targets import evaluate_polled, fetch_history
from bot.store.models import Alert, Connection, Run, Target, Watch, WatchRun
from integrations.base import MetricPoint, RunSnapshot, RunState
from tests.conftest import T0


class RecordingTracker:
    def __init__(self, values: list[float]):
        self.points = [MetricPoint(step=i + 1, value=v, at=T0 + timedelta(minutes=i)) for i, v in enumerate(values)]
        self.calls: list[tuple[tuple[str, ...], str, int | None]] = []

    def metric_history(self, refs, key, start_step=None):  # noqa: ANN001, ANN201
        self.calls.append((tuple(refs), key, start_step))
        return {ref: [p for p in self.points if start_step is None or p.step >= start_step] for ref in refs}


@pytest.fixture
def setup(services):
    now = services.clock()
    with services.store.tx() as s:
        conn = Connection(team_id="T", name="mlflow", kind="mlflow", url="http://x", created_at=now)
        s.add(conn)
        s.flush()
        run = Run(connection_id=conn.id, ref="r1", state="running", created_at=now, updated_at=now, started_at=now)
        watch = Watch(team_id="T", channel_id="C1", connection_id=conn.id, ref="r1", created_at=now)
        s.add_all([run, watch])
        s.flush()
        s.add(WatchRun(watch_id=watch.id, run_id=run.id))
        s.add(Target(team_id="T", channel_id="C1", metric="val_acc", op=">=", threshold=0.9, patience=2, created_at=now))
    return services, conn


def poll(services, conn, tracker, step: int) -> Answer:
    """The history step and the record step of one poll, as poll.py runs them."""
    snap = RunSnapshot(ref="r1", state=RunState.RUNNING, step=step, metrics={"val_acc": tracker.points[step - 1].value})
    answer = Answer(snaps={"r1": snap})
    fetch_history(services, Work(conn=conn, refs=["r1"]), tracker, answer)
    with services.store.tx() as s:
        evaluate_polled(s, services, s.get(Connection, conn.id), answer, services.clock())
    return answer


def test_asks_from_the_last_evaluated_step(setup):
    services, conn = setup
    tracker = RecordingTracker([0.85, 0.91, 0.88, 0.92, 0.93])
    for step in (1, 2, 3):
        poll(services, conn, _upto(tracker, step), step)
    # First poll: whole history (no progress yet). Then inclusive: a value logged again at the
    # last step later on (MLflow's step 0 when no step is given) is new; a repeat is not.
    assert [c[2] for c in tracker.calls] == [None, 1, 2]

    poll(services, conn, _upto(tracker, 3), 3)  # nothing new: not even a request
    assert len(tracker.calls) == 3


def test_a_crossing_reads_the_whole_history_for_its_chart(setup):
    services, conn = setup
    tracker = RecordingTracker([0.85, 0.91, 0.88, 0.92, 0.93])
    for step in (1, 2, 3, 4):
        poll(services, conn, _upto(tracker, step), step)
    answer = poll(services, conn, _upto(tracker, 5), 5)
    assert tracker.calls[-2:] == [(("r1",), "val_acc", 4), (("r1",), "val_acc", None)]
    assert [p.step for p in answer.history["val_acc"]["r1"]] == [1, 2, 3, 4, 5]
    with services.store.tx() as s:
        [alert] = s.scalars(select(Alert)).all()
    assert (alert.step, alert.value) == (5, 0.93)


def _upto(tracker: RecordingTracker, step: int) -> RecordingTracker:
    """The same tracker, its run having logged `step` values so far."""
    view = RecordingTracker([])
    view.points = tracker.points[:step]
    view.calls = tracker.calls
    return view
