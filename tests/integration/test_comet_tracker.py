"""CometTracker against a real local HTTP server speaking Comet REST v2 shapes."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from integrations.base import ConnectionInfo, RunState, TrackerError
from integrations.comet import KIND, CometTracker, Tracker
from integrations.comet.tracker import DEFAULT_API_URL
from integrations.http import TrackerHttp
from tests.fakes.comet_server import BASE_TIME, CometServer


@pytest.fixture
def server():
    with CometServer() as fake:
        yield fake


def tracker(server: CometServer, *, key: str | None = None, sleeps: list[float] | None = None):
    sleep = sleeps.append if sleeps is not None else (lambda seconds: None)
    conn = ConnectionInfo(KIND, "comet", server.url, secret=key or server.api_key)
    return CometTracker(conn, TrackerHttp(server.url, sleep=sleep))


def test_module_exports_the_tracker():
    assert Tracker is CometTracker and KIND == "comet"


def test_default_url_means_comet_cloud():
    t = CometTracker(ConnectionInfo("comet", "c", "default", secret="k" * 30))
    assert t.http.base_url == DEFAULT_API_URL
    assert t.ui_url == "https://www.comet.com"
    assert t.http.session.headers["Authorization"] == "k" * 30  # raw, no "Bearer"


def test_snapshot_converts_string_values_and_keeps_system_metrics_out(server):
    late = BASE_TIME + timedelta(minutes=5)
    key = server.add_experiment(
        "ml-team",
        "vision",
        name="resnet-baseline",
        user="bob",
        metrics={
            "loss": [(0, 1.0), (20, 0.25), (10, 0.5)],
            "acc": [(0, 0.5), (20, 0.75)],
            "sys.gpu.0.gpu_utilization": [(25, 97.0, late)],
        },
    )

    run = tracker(server).fetch_runs([key])[key]

    assert run.state is RunState.RUNNING
    assert run.name == "resnet-baseline"
    assert run.experiment == "ml-team/vision"
    assert run.metrics == {"loss": 0.25, "acc": 0.75}  # latest by time, strings -> floats, no sys.*
    assert run.step == 20  # training progress: system metrics do not count
    assert run.heartbeat_at == late  # ...but they are a sign of life
    assert run.started_at == BASE_TIME
    assert run.ended_at is None
    assert run.owner == "bob"
    assert run.url == f"{server.url.removesuffix('/api/rest/v2/')}/ml-team/vision/{key}"


@pytest.mark.parametrize(
    ("running", "crashed", "expected"),
    [
        (True, False, RunState.RUNNING),
        (False, False, RunState.FINISHED),
        (False, True, RunState.FAILED),
        (True, True, RunState.RUNNING),  # resumed after a crash: the flag stays set
    ],
)
def test_states(server, running, crashed, expected):
    ended = BASE_TIME + timedelta(hours=1)
    key = server.add_experiment("w", "p", running=running, crashed=crashed, ended_at=ended)
    run = tracker(server).fetch_runs([key])[key]
    assert run.state is expected
    assert run.ended_at == (None if expected is RunState.RUNNING else ended)


def test_fetch_costs_two_requests_per_experiment_and_skips_unknown_keys(server):
    keys = [server.add_experiment("w", "p", metrics={"loss": [(1, 0.5)]}) for _ in range(7)]
    unknown = "f" * 32

    got = tracker(server).fetch_runs([*keys, unknown, keys[0]])

    assert list(got) == keys
    assert server.count("experiment/metadata") == 8  # the unknown key stops after metadata
    assert server.count("experiment/metrics/summary") == 7
    assert server.count() == 2 * len(keys) + 1


def test_list_runs_filters_by_start_time(server):
    for minutes in (0, 30, 60, 90):
        server.add_experiment("w", "p", f"{minutes:032x}", started_at=BASE_TIME + timedelta(minutes=minutes))
    server.add_experiment("w", "other")

    runs = tracker(server).list_runs("w/p", since=BASE_TIME + timedelta(minutes=60))

    assert [r.ref for r in runs] == [f"{60:032x}", f"{90:032x}"]
    assert server.count("experiments") == 1
    assert server.count("experiment/metrics/summary") == 2  # only for the runs kept
    assert server.count() == 3


def test_list_runs_of_unknown_project_is_permanent(server):
    with pytest.raises(TrackerError) as err:
        tracker(server).list_runs("w/nope")
    assert err.value.permanent


def test_malformed_experiment_is_a_permanent_error(server):
    with pytest.raises(TrackerError) as err:
        tracker(server).list_runs("just-a-project")
    assert err.value.permanent
    assert server.count() == 0


@pytest.mark.parametrize("echo", [False, True])
def test_bad_key_is_permanent_and_never_quoted(server, echo):
    server.echo_key_in_errors = echo  # worst case: the server repeats the key it refused
    wrong = "wrong-key-4b1d9c7e5a3f"
    t = tracker(server, key=wrong)
    for call in (t.check, lambda: t.fetch_runs(["a" * 32])):
        with pytest.raises(TrackerError) as err:
            call()
        assert err.value.permanent and err.value.status == 401
        assert wrong not in str(err.value)
    assert server.count() == 2  # a 401 is not retried


def test_check_sends_the_raw_key(server):
    tracker(server).check()
    assert server.requests[0].headers["Authorization"] == server.api_key


def test_429_retry_after_is_honoured(server):
    key = server.add_experiment("w", "p")
    server.rate_limit_next(5)
    sleeps: list[float] = []
    assert key in tracker(server, sleeps=sleeps).fetch_runs([key])
    assert sleeps == [5.0]


def test_500_is_retried_with_backoff_then_reported_as_transient(server):
    key = server.add_experiment("w", "p")
    server.fail_next(500, times=10)
    sleeps: list[float] = []
    with pytest.raises(TrackerError) as err:
        tracker(server, sleeps=sleeps).fetch_runs([key])
    assert not err.value.permanent and err.value.status == 500
    assert sleeps == [0.5, 1.0, 2.0]


def test_metric_history_sorts_comets_unsorted_rows(server):
    a = server.add_experiment("w", "p", metrics={"loss": [(30, 0.1), (0, 1.0), (20, 0.2), (10, 0.5)]})
    b = server.add_experiment("w", "p", metrics={"acc": [(0, 0.5)]})

    history = tracker(server).metric_history([a, b, "f" * 32], "loss", start_step=10)

    assert [p.step for p in history[a]] == [10, 20, 30]
    assert [p.value for p in history[a]] == [0.5, 0.2, 0.1]
    assert history[a][0].at == BASE_TIME + timedelta(seconds=100)
    assert history[b] == []  # known experiment, metric never logged
    assert "f" * 32 not in history
    assert server.count("experiment/metrics/get-metric") == 3  # one per experiment


def test_non_numeric_metric_values_are_skipped(server):
    key = server.add_experiment("w", "p", metrics={"loss": [(1, "NaN")], "note": [(1, "best-so-far")]})
    run = tracker(server).fetch_runs([key])[key]
    assert set(run.metrics) == {"loss"} and math.isnan(run.metrics["loss"])
