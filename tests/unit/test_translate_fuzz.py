"""Any JSON a tracker might answer: translation returns snapshots or raises TrackerError, nothing else
(issue 12, item 2). Values are arbitrary JSON; keys are mostly the ones each API documents, so
the wrong types land where the translators look."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.base import MetricPoint, RunSnapshot, TrackerError
from integrations.comet import translate as comet
from integrations.mlflow import translate as mlflow
from integrations.wandb import translate as wandb

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)
big_numbers = st.sampled_from([2**63, -(2**63) - 1, 10**30, 1e300, -1e300, float("inf"), float("nan"), "1e999"])
values = json_values | big_numbers


def shaped(keys: list[str], **nested: st.SearchStrategy) -> st.SearchStrategy[Any]:
    """Objects with (some of) these keys, and now and then something that is not an object."""
    fields = {key: nested.get(key, values) for key in keys}
    return st.fixed_dictionaries({}, optional=fields) | values


def listed(item: st.SearchStrategy) -> st.SearchStrategy[Any]:
    return st.lists(item, max_size=4) | values


MLFLOW_METRIC = shaped(["key", "value", "step", "timestamp", "run_id"])
MLFLOW_PAIR = shaped(["key", "value"])
MLFLOW_RUN = shaped(
    ["info", "data"],
    info=shaped(["run_id", "run_uuid", "experiment_id", "status", "run_name", "start_time", "end_time", "user_id"]),
    data=shaped(["metrics", "params", "tags"], metrics=listed(MLFLOW_METRIC), params=listed(MLFLOW_PAIR),
                tags=listed(MLFLOW_PAIR)),
)
WANDB_NODE = shaped(
    ["name", "displayName", "state", "createdAt", "heartbeatAt", "config", "summaryMetrics", "historyKeys", "user"],
    user=shaped(["name", "username"]),
)
WANDB_ROW = shaped(["_step", "_timestamp", "loss"])
COMET_METADATA = shaped(["running", "hasCrashed", "experimentName", "workspaceName", "projectName",
                         "startTimeMillis", "endTimeMillis", "userName"])
COMET_SUMMARY = shaped(["name", "valueCurrent", "stepCurrent", "timestampCurrent"])
COMET_ROW = shaped(["step", "metricValue", "timestamp"])


def only_snapshots_or_tracker_errors(call, kind) -> None:  # noqa: ANN001
    try:
        result = call()
    except TrackerError as exc:
        assert not exc.permanent  # a bad answer is this poll's problem, not the connection's
        assert str(exc)
        return
    items = result if isinstance(result, list) else [result]
    assert all(isinstance(item, kind) for item in items)
    for item in items:
        if isinstance(item, RunSnapshot):  # what the core and the messages rely on
            assert isinstance(item.ref, str)
            assert all(isinstance(v, str | None) for v in (item.name, item.experiment, item.owner))
            assert item.step is None or isinstance(item.step, int)
            assert all(isinstance(k, str) and isinstance(v, float) for k, v in item.metrics.items())


@settings(max_examples=400, deadline=None)
@given(MLFLOW_RUN)
def test_mlflow_snapshot(run):
    only_snapshots_or_tracker_errors(lambda: mlflow.snapshot(run, "http://mlflow.example", {"1": "exp"}), RunSnapshot)


@settings(max_examples=200, deadline=None)
@given(MLFLOW_METRIC)
def test_mlflow_metric_point(raw):
    only_snapshots_or_tracker_errors(lambda: mlflow.metric_point(raw), MetricPoint)


@settings(max_examples=400, deadline=None)
@given(WANDB_NODE)
def test_wandb_snapshot(node):
    only_snapshots_or_tracker_errors(
        lambda: wandb.to_snapshot(node, ref="e/p/r", entity="e", project="p", api_url="https://api.wandb.ai"),
        RunSnapshot,
    )


@settings(max_examples=200, deadline=None)
@given(listed(WANDB_ROW))
def test_wandb_history(rows):
    only_snapshots_or_tracker_errors(lambda: wandb.history_points(rows, "loss", None), MetricPoint)


@settings(max_examples=400, deadline=None)
@given(COMET_METADATA, listed(COMET_SUMMARY))
def test_comet_snapshot(metadata, summary):
    only_snapshots_or_tracker_errors(
        lambda: comet.to_snapshot("abc", metadata, summary, "https://www.comet.com"), RunSnapshot
    )


@settings(max_examples=200, deadline=None)
@given(listed(COMET_ROW))
def test_comet_history(rows):
    only_snapshots_or_tracker_errors(lambda: comet.history_points(rows, None), MetricPoint)


def test_the_reported_answer_is_a_tracker_error_naming_the_field():
    bad = {"info": {"run_id": None, "status": 12}, "data": {"metrics": "zz"}}
    with pytest.raises(TrackerError) as caught:
        mlflow.snapshot(bad, "http://mlflow.example")
    assert "run_id" in str(caught.value) and not caught.value.permanent
