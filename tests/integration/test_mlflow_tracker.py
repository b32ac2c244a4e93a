"""MlflowTracker against a real `mlflow server`: the session fixture `mlflow_server` from
tests/mlflow_server.py (imported by tests/conftest.py) starts it once per test session."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from integrations.base import ConnectionInfo, RunState, TrackerError
from integrations.http import TrackerHttp
from integrations.mlflow import KIND, MlflowTracker, Tracker
from tests.mlflow_server import MlflowLogger, free_port

pytestmark = pytest.mark.mlflow

CURRENT_TIME = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
T0 = int(CURRENT_TIME.timestamp() * 1000)
MINUTE = 60_000


def at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def make_tracker(url: str, **kwargs) -> MlflowTracker:
    # A recorded, never-waiting sleep: retries must not slow the suite down.
    http = TrackerHttp(url, sleep=lambda seconds: None)
    return MlflowTracker(ConnectionInfo(kind="mlflow", name="mlflow", url=url), http, **kwargs)


@pytest.fixture
def tracker(mlflow_server: str) -> MlflowTracker:
    return make_tracker(mlflow_server)


@pytest.fixture
def experiment(mlflow_logger: MlflowLogger) -> tuple[str, str]:
    name = f"exp-{uuid.uuid4().hex[:8]}"
    return name, mlflow_logger.create_experiment(name)


def test_package_exports_the_common_names():
    assert Tracker is MlflowTracker
    assert KIND == "mlflow"


def test_snapshots_of_running_finished_and_failed_runs(tracker, mlflow_logger, experiment, mlflow_server):
    exp_name, exp_id = experiment
    running = mlflow_logger.create_run(
        exp_id, start_ms=T0, name="bert-a", user="alice", params={"epochs": 10}
    )
    mlflow_logger.log_metrics(
        running,
        [("loss", 1.0 / (s + 1), s, T0 + s * MINUTE) for s in range(4)] + [("acc", 0.5, 2, T0 + 2 * MINUTE)],
    )
    finished = mlflow_logger.create_run(exp_id, start_ms=T0, name="bert-b", params={"max_steps": 100})
    mlflow_logger.log_metrics(finished, [("loss", 0.1, 100, T0 + 9 * MINUTE)])
    mlflow_logger.end_run(finished, "FINISHED", T0 + 10 * MINUTE)
    failed = mlflow_logger.create_run(exp_id, start_ms=T0 + MINUTE, name="bert-c")
    mlflow_logger.end_run(failed, "FAILED", T0 + 2 * MINUTE)

    snaps = tracker.fetch_runs([running, finished, failed])

    run = snaps[running]
    assert run.state is RunState.RUNNING
    assert (run.name, run.owner, run.experiment) == ("bert-a", "alice", exp_name)
    assert run.step == 3 and run.total_steps == 10
    assert run.metrics == {"loss": 0.25, "acc": 0.5}
    assert run.params == {"epochs": "10"}
    assert run.started_at == CURRENT_TIME and run.ended_at is None
    assert run.heartbeat_at == at(T0 + 3 * MINUTE)
    assert run.url == f"{mlflow_server}/#/experiments/{exp_id}/runs/{running}"

    assert snaps[finished].state is RunState.FINISHED
    assert snaps[finished].total_steps == 100
    assert snaps[finished].ended_at == at(T0 + 10 * MINUTE)

    assert snaps[failed].state is RunState.FAILED
    assert snaps[failed].step is None and snaps[failed].metrics == {}
    assert snaps[failed].heartbeat_at == at(T0 + MINUTE)  # no metrics: start time


@pytest.mark.parametrize(("status", "state"), [("SCHEDULED", RunState.QUEUED), ("KILLED", RunState.KILLED)])
def test_other_statuses(tracker, mlflow_logger, experiment, status, state):
    run = mlflow_logger.create_run(experiment[1], start_ms=T0)
    mlflow_logger.end_run(run, status, T0 + MINUTE)
    assert tracker.fetch_runs([run])[run].state is state


def test_owner_and_name_from_tags(tracker, mlflow_logger, experiment):
    run = mlflow_logger.create_run(
        experiment[1], start_ms=T0, tags={"mlflow.runName": "r", "mlflow.user": "bob"}
    )
    snap = tracker.fetch_runs([run])[run]
    assert (snap.name, snap.owner) == ("r", "bob")


def test_non_finite_metrics_are_kept(tracker, mlflow_logger, experiment):
    run = mlflow_logger.create_run(experiment[1], start_ms=T0)
    nan, inf = float("nan"), float("inf")
    mlflow_logger.log_metrics(run, [("loss", nan, 1, T0), ("grad", inf, 1, T0), ("low", -inf, 1, T0)])

    metrics = tracker.fetch_runs([run])[run].metrics
    assert math.isnan(metrics["loss"])
    assert metrics["grad"] == inf and metrics["low"] == -inf  # the server stored +-float max
    assert math.isnan(tracker.metric_history([run], "loss")[run][0].value)


def test_fetch_runs_batches_requests(mlflow_server, mlflow_logger, experiment):
    runs = [mlflow_logger.create_run(experiment[1], start_ms=T0) for _ in range(25)]
    tracker = make_tracker(mlflow_server, batch_size=10)

    assert set(tracker.fetch_runs(runs)) == set(runs)
    assert tracker.http.requests_made == 1 + 3  # experiments/search once, then ceil(25 / 10)

    tracker.http.requests_made = 0
    assert len(tracker.fetch_runs(runs + runs[:5])) == 25  # duplicates are asked once
    assert tracker.http.requests_made == 3


def test_fetch_runs_follows_pages_within_a_batch(mlflow_server, mlflow_logger, experiment):
    runs = [mlflow_logger.create_run(experiment[1], start_ms=T0) for _ in range(10)]
    tracker = make_tracker(mlflow_server, page_size=4)
    tracker.fetch_runs(runs[:1])  # learn the experiments
    tracker.http.requests_made = 0

    assert set(tracker.fetch_runs(runs)) == set(runs)
    assert tracker.http.requests_made == 3  # pages of 4, 4, 2


def test_unknown_and_deleted_refs_are_absent_and_cost_one_refresh(tracker, mlflow_logger, experiment):
    kept = mlflow_logger.create_run(experiment[1], start_ms=T0)
    deleted = mlflow_logger.create_run(experiment[1], start_ms=T0)
    mlflow_logger.delete_run(deleted)
    refs = [kept, deleted, uuid.uuid4().hex, "not a run id'"]

    assert set(tracker.fetch_runs(refs)) == {kept}
    assert tracker.http.requests_made == 2  # experiments, runs (a list just read is not read twice)

    tracker.http.requests_made = 0
    assert set(tracker.fetch_runs(refs)) == {kept}
    assert tracker.http.requests_made == 1  # known-absent refs do not refresh again


def test_run_in_an_experiment_created_later_is_found(tracker, mlflow_logger, experiment):
    first = mlflow_logger.create_run(experiment[1], start_ms=T0)
    tracker.fetch_runs([first])
    newer_exp = mlflow_logger.create_experiment(f"exp-{uuid.uuid4().hex[:8]}")
    later = mlflow_logger.create_run(newer_exp, start_ms=T0)
    tracker.http.requests_made = 0

    assert set(tracker.fetch_runs([first, later])) == {first, later}
    assert tracker.http.requests_made == 3  # search, experiments, search in the new one only


def test_fetch_runs_of_nothing_costs_nothing(tracker):
    assert tracker.fetch_runs([]) == {}
    assert tracker.http.requests_made == 0


def test_list_runs_since(tracker, mlflow_logger, experiment):
    exp_name, exp_id = experiment
    early = mlflow_logger.create_run(exp_id, start_ms=T0 - 60 * MINUTE)
    on_time = mlflow_logger.create_run(exp_id, start_ms=T0)
    late = mlflow_logger.create_run(exp_id, start_ms=T0 + 60 * MINUTE)

    assert {s.ref for s in tracker.list_runs(exp_name)} == {early, on_time, late}
    assert {s.ref for s in tracker.list_runs(exp_name, since=CURRENT_TIME)} == {on_time, late}
    just_after = CURRENT_TIME + timedelta(microseconds=1)  # start_time is whole ms: rounds up
    assert {s.ref for s in tracker.list_runs(exp_name, since=just_after)} == {late}
    assert {s.experiment for s in tracker.list_runs(exp_name)} == {exp_name}


def test_list_runs_pages(mlflow_server, mlflow_logger, experiment):
    exp_name, exp_id = experiment
    runs = {mlflow_logger.create_run(exp_id, start_ms=T0 + i) for i in range(5)}
    tracker = make_tracker(mlflow_server, page_size=2)

    assert {s.ref for s in tracker.list_runs(exp_name)} == runs
    assert tracker.http.requests_made == 1 + 3  # get-by-name, pages of 2, 2, 1


def test_list_runs_of_unknown_experiment_is_permanent(tracker):
    with pytest.raises(TrackerError, match="no experiment named 'nope-") as err:
        tracker.list_runs(f"nope-{uuid.uuid4().hex}")
    assert err.value.permanent


def test_metric_history_ascending_latest_per_step_from_start_step(tracker, mlflow_logger, experiment):
    a = mlflow_logger.create_run(experiment[1], start_ms=T0)
    b = mlflow_logger.create_run(experiment[1], start_ms=T0)
    # Logged out of order, and step 5 of run a twice: the later timestamp is the value to keep.
    mlflow_logger.log_metrics(a, [("loss", float(s), s, T0 + s * MINUTE) for s in (9, 3, 7, 5, 1, 0)])
    mlflow_logger.log_metrics(a, [("loss", 55.0, 5, T0 + 20 * MINUTE), ("acc", 1.0, 6, T0)])
    mlflow_logger.log_metrics(b, [("loss", 2.0, 4, T0)])

    unknown = uuid.uuid4().hex
    history = tracker.metric_history([a, b, unknown], "loss", start_step=4)

    assert [(p.step, p.value) for p in history[a]] == [(5, 55.0), (7, 7.0), (9, 9.0)]
    assert history[a][0].at == at(T0 + 20 * MINUTE)
    assert [p.step for p in history[b]] == [4]
    assert history[unknown] == []
    assert tracker.http.requests_made == 1
    assert [p.step for p in tracker.metric_history([a], "loss")[a]] == [0, 1, 3, 5, 7, 9]


def test_metric_history_batches_100_runs_per_request(tracker, mlflow_logger, experiment):
    runs = [mlflow_logger.create_run(experiment[1], start_ms=T0) for _ in range(101)]
    mlflow_logger.log_metrics(runs[-1], [("loss", 1.0, 1, T0)])

    history = tracker.metric_history(runs, "loss")

    assert len(history) == 101 and len(history[runs[-1]]) == 1
    assert tracker.http.requests_made == 2


def test_metric_history_beyond_the_bulk_sample_is_complete(tracker, mlflow_logger, experiment):
    run = mlflow_logger.create_run(experiment[1], start_ms=T0)
    mlflow_logger.log_metrics(run, [("loss", float(s), s, T0 + s) for s in range(2600)])

    points = tracker.metric_history([run], "loss")[run]

    # The bulk endpoint would sample 2,600 steps down to ~2,500; get-history returns them all.
    assert [p.step for p in points] == list(range(2600))
    assert tracker.http.requests_made == 2


def test_check_passes_on_a_real_server(tracker):
    tracker.check()
    assert tracker.http.requests_made == 1


def test_server_down_is_a_transient_error():
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    sleeps: list[float] = []
    http = TrackerHttp(url, sleep=sleeps.append, timeout=2)
    tracker = MlflowTracker(ConnectionInfo(kind="mlflow", name="m", url=url), http)

    with pytest.raises(TrackerError, match="cannot reach tracker") as err:
        tracker.fetch_runs([uuid.uuid4().hex])
    assert not err.value.permanent
    assert http.requests_made == 4 and sleeps == [0.5, 1.0, 2.0]
