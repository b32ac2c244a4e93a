"""MlflowTracker recovers from answers that contradict its caches (issue 12, item 1).

A small proxy in front of the real `mlflow server` (tests/fault_proxy.py) answers chosen
requests with `200 {}` or a short experiment list, and forwards the rest unchanged.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from integrations.base import ConnectionInfo, TrackerError
from integrations.http import TrackerHttp
from integrations.mlflow import MlflowTracker
from integrations.mlflow.tracker import CACHE_SECONDS
from tests.fault_proxy import Fault, FaultProxy
from tests.mlflow_server import MlflowLogger

pytestmark = pytest.mark.mlflow

T0 = int(datetime(2026, 1, 5, 12, 0, tzinfo=UTC).timestamp() * 1000)

@pytest.fixture
def proxy(mlflow_server: str) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy(mlflow_server)
    yield fault_proxy
    fault_proxy.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def tracker_via(proxy: FaultProxy, clock: Clock) -> MlflowTracker:
    http = TrackerHttp(proxy.url, sleep=lambda seconds: None)
    return MlflowTracker(ConnectionInfo(kind="mlflow", name="mlflow", url=proxy.url), http, clock=clock)


def new_run(logger: MlflowLogger) -> str:
    experiment_id = logger.create_experiment(f"exp-{uuid.uuid4().hex[:8]}")
    return logger.create_run(experiment_id, start_ms=T0, name="bert")


def empty_everywhere(path: str, body: dict | None) -> dict:
    return {}


def test_one_empty_answer_does_not_stop_polling(proxy, mlflow_logger):
    run_id = new_run(mlflow_logger)
    tracker = tracker_via(proxy, Clock())
    proxy.fault = empty_everywhere  # every request of this poll answers 200 {}
    assert tracker.fetch_runs([run_id]) == {}
    proxy.fault = None
    proxy.paths.clear()
    found = tracker.fetch_runs([run_id])  # the very next poll asks again and finds the run
    assert list(found) == [run_id]
    assert "/api/2.0/mlflow/experiments/search" in proxy.paths


def test_an_empty_experiment_list_does_not_replace_the_known_one(proxy, mlflow_logger):
    first = new_run(mlflow_logger)
    tracker = tracker_via(proxy, Clock())
    assert list(tracker.fetch_runs([first])) == [first]
    later = new_run(mlflow_logger)  # in an experiment the tracker has not seen yet
    proxy.fault = lambda path, body: {} if path.endswith("experiments/search") else None
    assert list(tracker.fetch_runs([first, later])) == [first]
    proxy.fault = None
    assert set(tracker.fetch_runs([first, later])) == {first, later}


def without_experiment(experiment_id: str) -> Fault:
    """A lagging replica: experiments/search does not list the newest experiment yet."""

    def fault(path: str, body: dict | None) -> dict | None:
        if not path.endswith("experiments/search"):
            return None
        return {"experiments": [e for e in body["experiments"] if e["experiment_id"] != experiment_id]}

    return fault


def run_in_new_experiment(logger: MlflowLogger) -> tuple[str, str, str]:
    name = f"exp-{uuid.uuid4().hex[:8]}"
    experiment_id = logger.create_experiment(name)
    return name, experiment_id, logger.create_run(experiment_id, start_ms=T0, name="gpt")


def test_a_run_missing_from_a_short_experiment_list_is_found_once_the_cache_expires(proxy, mlflow_logger):
    first = new_run(mlflow_logger)
    clock = Clock()
    tracker = tracker_via(proxy, clock)
    assert list(tracker.fetch_runs([first])) == [first]
    _, experiment_id, later = run_in_new_experiment(mlflow_logger)
    proxy.fault = without_experiment(experiment_id)
    assert list(tracker.fetch_runs([first, later])) == [first]
    proxy.fault = None
    assert list(tracker.fetch_runs([first, later])) == [first]  # remembered as absent: cheap
    clock.now += CACHE_SECONDS
    assert set(tracker.fetch_runs([first, later])) == {first, later}


def test_a_listed_run_of_an_unknown_experiment_refreshes_the_cache(proxy, mlflow_logger):
    first = new_run(mlflow_logger)
    tracker = tracker_via(proxy, Clock())
    assert list(tracker.fetch_runs([first])) == [first]
    name, experiment_id, later = run_in_new_experiment(mlflow_logger)
    proxy.fault = without_experiment(experiment_id)
    assert list(tracker.fetch_runs([first, later])) == [first]
    proxy.fault = None
    # list_runs meets an experiment the cache does not hold: the cache is contradicted, so the
    # next fetch lists experiments again at once instead of after CACHE_SECONDS.
    assert [s.ref for s in tracker.list_runs(name)] == [later]
    assert set(tracker.fetch_runs([first, later])) == {first, later}


BAD_RUN = {"info": {"run_id": None, "status": 12}, "data": {"metrics": "zz"}}  # as found in issue 12


def test_a_wrong_typed_run_is_skipped_and_the_good_ones_kept(proxy, mlflow_logger, caplog):
    good = new_run(mlflow_logger)
    tracker = tracker_via(proxy, Clock())

    def with_a_bad_run(path: str, body: dict | None) -> dict | None:
        if path.endswith("runs/search"):
            return {"runs": [BAD_RUN, *body.get("runs", [])]}
        return None

    proxy.fault = with_a_bad_run
    with caplog.at_level(logging.WARNING):
        assert list(tracker.fetch_runs([good])) == [good]
    assert "skipping one run of a MLflow answer" in caplog.text and "info.run_id" in caplog.text


@pytest.mark.parametrize("answer", [{"runs": "zz"}, {"runs": [1, 2]}, [], "zz"])
def test_a_wrong_typed_answer_is_a_tracker_error_of_that_connection(proxy, mlflow_logger, answer):
    good = new_run(mlflow_logger)
    tracker = tracker_via(proxy, Clock())
    proxy.fault = lambda path, body: answer if path.endswith("runs/search") else None
    try:
        tracker.fetch_runs([good])
    except TrackerError as exc:
        assert not exc.permanent and "MLflow answered" in str(exc)
    else:
        assert answer == {"runs": [1, 2]}  # two malformed runs, each skipped: nothing found
