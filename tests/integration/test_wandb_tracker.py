"""WandbTracker against a real local HTTP server speaking W&B's GraphQL shapes."""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime, timedelta

import pytest

from integrations.base import ConnectionInfo, RunState, TrackerError
from integrations.http import TrackerHttp
from integrations.wandb import KIND, Tracker, WandbTracker
from integrations.wandb.tracker import PER_PAGE
from tests.fakes.wandb_server import BASE_TIME, WandbServer


@pytest.fixture
def server():
    with WandbServer() as fake:
        yield fake


def tracker(server: WandbServer, *, key: str | None = None, sleeps: list[float] | None = None, **options):
    sleep = sleeps.append if sleeps is not None else (lambda seconds: None)
    conn = ConnectionInfo(KIND, "wandb", server.url, secret=key or server.api_key, options=options)
    return WandbTracker(conn, TrackerHttp(server.url, sleep=sleep))


def graphql_variables(server: WandbServer) -> list[dict]:
    return [r.body["variables"] for r in server.requests]


def test_module_exports_the_tracker():
    assert Tracker is WandbTracker and KIND == "wandb"


def test_default_url_means_the_wandb_cloud_api():
    t = WandbTracker(ConnectionInfo("wandb", "w", "default", secret="k" * 40))
    assert t.http.base_url == "https://api.wandb.ai/"
    assert t.http.session.auth.username == "api"


def test_snapshot_translates_json_strings_and_wrapped_config(server):
    server.add_run(
        "team",
        "vision",
        "ab12cd34",
        display_name="resnet-baseline",
        config={"lr": 0.001, "max_steps": 500, "optimizer": "adam", "layers": [64, 128]},
        history=[{"loss": 1.0, "acc": 0.5}, {"loss": 0.5, "acc": 0.7}, {"loss": 0.25, "acc": 0.8}],
        summary={"best_acc": 0.8, "examples": {"_type": "table-file", "path": "t.json"}, "done": True},
        user="bob",
    )

    run = tracker(server).fetch_runs(["team/vision/ab12cd34"])["team/vision/ab12cd34"]

    assert run.state is RunState.RUNNING
    assert run.name == "resnet-baseline"
    assert run.experiment == "team/vision"
    assert run.step == 2
    assert run.total_steps == 500
    assert run.metrics == {"loss": 0.25, "acc": 0.8, "best_acc": 0.8}  # no _step/_runtime/media/bool
    assert run.params == {"lr": "0.001", "max_steps": "500", "optimizer": "adam", "layers": "[64, 128]"}
    assert run.started_at == BASE_TIME
    assert run.heartbeat_at == BASE_TIME + timedelta(seconds=20)
    assert run.ended_at is None
    assert run.owner == "bob"
    assert run.url == f"{server.url}team/vision/runs/ab12cd34"


@pytest.mark.parametrize(
    ("wandb_state", "expected"),
    [
        ("running", RunState.RUNNING),
        ("finished", RunState.FINISHED),
        ("failed", RunState.FAILED),
        ("crashed", RunState.FAILED),
        ("killed", RunState.KILLED),
        ("preempting", RunState.QUEUED),
        ("preempted", RunState.QUEUED),
        ("pending", RunState.QUEUED),
        ("something-new", RunState.UNKNOWN),
    ],
)
def test_states(server, wandb_state, expected):
    server.add_run("team", "p", "r1", state=wandb_state, history=[{"loss": 1.0}])
    run = tracker(server).fetch_runs(["team/p/r1"])["team/p/r1"]
    assert run.state is expected
    assert (run.ended_at == run.heartbeat_at) if expected.is_terminal else run.ended_at is None


def test_fetch_many_runs_costs_one_query_per_project_per_page(server):
    names_a = [f"a{i:04d}" for i in range(250)]
    for name in names_a:
        server.add_run("team", "big", name, history=[{"loss": 1.0}])
    for name in ("b1", "b2", "b3"):
        server.add_run("team", "small", name)
    server.add_run("team", "big", "untracked")  # in the project but not asked for
    refs = [f"team/big/{n}" for n in names_a] + ["team/small/b1", "team/small/b2", "team/small/b3"]

    snapshots = tracker(server).fetch_runs(refs)

    assert set(snapshots) == set(refs)
    assert server.count("graphql") == math.ceil(250 / PER_PAGE) + 1
    variables = graphql_variables(server)
    assert all(v["perPage"] == PER_PAGE for v in variables)
    # filters travel as a JSON *string*, naming the runs with $in
    big = [v for v in variables if v["project"] == "big"]
    assert all(isinstance(v["filters"], str) for v in big)
    assert json.loads(big[0]["filters"]) == {"name": {"$in": names_a}}
    # the cursor is followed: first page without one, later pages with the previous endCursor
    assert big[0]["cursor"] is None and all(v["cursor"] for v in big[1:])
    assert len({v["cursor"] for v in big}) == len(big)


def test_unknown_runs_and_projects_are_absent(server):
    server.add_run("team", "p", "known")
    got = tracker(server).fetch_runs(["team/p/known", "team/p/missing", "team/nope/x"])
    assert list(got) == ["team/p/known"]


def test_unknown_project_reported_as_null_project_is_absent_too(server):
    server.project_errors = False  # the shape the SDK checks for: data.project == null, no errors
    assert tracker(server).fetch_runs(["team/nope/x"]) == {}


def test_bare_run_id_uses_the_connection_entity_and_project(server):
    server.add_run("team", "p", "r1")
    got = tracker(server, entity="team", project="p").fetch_runs(["r1"])
    assert got["r1"].experiment == "team/p"


def test_malformed_ref_is_a_permanent_error(server):
    with pytest.raises(TrackerError) as err:
        tracker(server).fetch_runs(["just-a-run"])
    assert err.value.permanent


def test_list_runs_since_filters_on_created_at(server):
    for minutes in (0, 30, 60, 90):
        server.add_run("team", "p", f"r{minutes}", created_at=BASE_TIME + timedelta(minutes=minutes))
    since = BASE_TIME + timedelta(minutes=60)

    runs = tracker(server).list_runs("team/p", since=since)

    assert [r.ref for r in runs] == ["team/p/r60", "team/p/r90"]  # at or after `since`
    assert server.count() == 1
    assert json.loads(graphql_variables(server)[0]["filters"]) == {
        "createdAt": {"$gte": "2026-01-05T10:00:00Z"}
    }


def test_list_runs_without_since_pages_through_everything(server):
    for i in range(PER_PAGE + 5):
        server.add_run("team", "p", f"r{i:03d}")
    runs = tracker(server).list_runs("team/p")
    assert len(runs) == PER_PAGE + 5
    assert len({r.ref for r in runs}) == PER_PAGE + 5
    assert server.count() == 2


@pytest.mark.parametrize("project_errors", [True, False])
def test_list_runs_of_unknown_project_is_permanent(server, project_errors):
    server.project_errors = project_errors
    with pytest.raises(TrackerError) as err:
        tracker(server).list_runs("team/nope")
    assert err.value.permanent


def test_permission_denied_graphql_error_is_permanent(server):
    server.add_run("other", "p", "r1")
    server.forbidden.add(("other", "p"))
    with pytest.raises(TrackerError) as err:
        tracker(server).fetch_runs(["other/p/r1"])
    assert err.value.permanent
    assert "permission denied" in str(err.value)


def test_other_graphql_errors_in_a_200_are_transient(server):
    server.add_run("team", "p", "r1")
    server.fail_next(200, body={"errors": [{"message": "upstream request timeout"}], "data": None})
    with pytest.raises(TrackerError) as err:
        tracker(server).fetch_runs(["team/p/r1"])
    assert not err.value.permanent


def test_bad_key_is_permanent_and_never_quoted(server):
    wrong = "wrong-key-4b1d9c7e5a3f"
    t = tracker(server, key=wrong)
    for call in (t.check, lambda: t.fetch_runs(["team/p/r1"])):
        with pytest.raises(TrackerError) as err:
            call()
        assert err.value.permanent and err.value.status == 401
        assert wrong not in str(err.value)
        assert base64.b64encode(f"api:{wrong}".encode()).decode() not in str(err.value)
    assert server.count() == 2  # a 401 is not retried


def test_check_passes_with_the_right_key(server):
    tracker(server).check()
    request = server.requests[0]
    assert (
        request.headers["Authorization"]
        == "Basic " + base64.b64encode(f"api:{server.api_key}".encode()).decode()
    )


def test_429_retry_after_is_honoured(server):
    server.add_run("team", "p", "r1")
    server.rate_limit_next(7)
    sleeps: list[float] = []
    assert "team/p/r1" in tracker(server, sleeps=sleeps).fetch_runs(["team/p/r1"])
    assert sleeps == [7.0]
    assert server.count() == 2


def test_429_ratelimit_reset_is_honoured_when_retry_after_is_missing(server):
    server.add_run("team", "p", "r1")
    server.fail_next(429, headers={"RateLimit-Remaining": "0", "RateLimit-Reset": "12"})
    sleeps: list[float] = []
    tracker(server, sleeps=sleeps).fetch_runs(["team/p/r1"])
    assert sleeps == [12.0]


def test_429_that_persists_reports_retry_after(server):
    server.rate_limit_next(3, times=10)
    with pytest.raises(TrackerError) as err:
        tracker(server).fetch_runs(["team/p/r1"])
    assert not err.value.permanent and err.value.retry_after == 3.0
    assert server.count() == 4  # first try + 3 retries


def test_500_is_retried_with_backoff_then_reported_as_transient(server):
    server.fail_next(500, times=10)
    sleeps: list[float] = []
    with pytest.raises(TrackerError) as err:
        tracker(server, sleeps=sleeps).fetch_runs(["team/p/r1"])
    assert not err.value.permanent and err.value.status == 500
    assert sleeps == [0.5, 1.0, 2.0]


def test_one_500_then_success(server):
    server.add_run("team", "p", "r1")
    server.fail_next(503)
    assert list(tracker(server).fetch_runs(["team/p/r1"])) == ["team/p/r1"]


def test_metric_history_is_ascending_from_start_step(server):
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    rows = [{"_step": s, "loss": 1.0 / (s + 1), "_timestamp": start.timestamp() + s} for s in (4, 0, 3, 1, 2)]
    rows.append({"_step": 5, "acc": 0.9})  # a row without the key
    server.add_run("team", "p", "r1", history=rows)
    server.add_run("team", "p", "r2", history=[{"loss": 2.0}])

    history = tracker(server).metric_history(
        ["team/p/r1", "team/p/r2", "team/p/missing"], "loss", start_step=2
    )

    assert [p.step for p in history["team/p/r1"]] == [2, 3, 4]
    assert [p.value for p in history["team/p/r1"]] == [1 / 3, 1 / 4, 1 / 5]
    assert history["team/p/r1"][0].at == start + timedelta(seconds=2)
    assert history["team/p/r2"] == []  # its only point is before start_step
    assert "team/p/missing" not in history
    assert server.count() == 3  # one sampledHistory query per run
    spec = json.loads(graphql_variables(server)[0]["specs"][0])
    assert spec["keys"] == ["_step", "_timestamp", "loss"] and spec["minStep"] == 2


def test_stop_sends_the_sdks_stoprun_mutation_and_the_run_turns_killed(server):
    from integrations.base import StopAsk
    from integrations.wandb.graphql import STOP_RUN

    server.add_run("team", "vision", "ab12cd34", history=[{"loss": 1.0}])
    t = tracker(server)

    t.stop_run(StopAsk("team/vision/ab12cd34", requested_by="alice", reason="reached its target"))

    [request] = [r for r in server.requests if "stopRun" in r.body["query"]]
    assert request.body == {"query": STOP_RUN, "variables": {"id": "UnVuOnYxOmFiMTJjZDM0OnZpc2lvbjp0ZWFt"}}
    assert base64.b64decode(request.body["variables"]["id"]) == b"Run:v1:ab12cd34:vision:team"
    assert "mutation stopRun($id: ID!)" in STOP_RUN and "stopRun(input: {" in STOP_RUN
    assert t.fetch_runs(["team/vision/ab12cd34"])["team/vision/ab12cd34"].state is RunState.KILLED


def test_stopping_a_run_wandb_does_not_know_is_a_permanent_error(server):
    from integrations.base import StopAsk

    server.add_project("team", "vision")
    with pytest.raises(TrackerError) as err:
        tracker(server).stop_run(StopAsk("team/vision/nope", requested_by="alice"))
    assert err.value.permanent and "run not found" in str(err.value)
    assert server.stops == [base64.b64encode(b"Run:v1:nope:vision:team").decode()]
