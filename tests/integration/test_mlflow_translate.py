"""integrations.mlflow.translate: pure, table-driven. Run JSON follows the shape in
https://mlflow.org/docs/latest/rest-api.html and what a real 3.17 server returned."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from integrations.base import RunState
from integrations.mlflow.translate import (
    latest_per_step,
    metric_point,
    metric_value,
    snapshot,
    total_steps,
    ui_url,
)

RUN = {
    "info": {
        "run_uuid": "5f2a",
        "run_id": "5f2a",
        "experiment_id": "1",
        "run_name": "r0",
        "user_id": "",
        "status": "RUNNING",
        "start_time": 1795341594972,
        "artifact_uri": "/a",
        "lifecycle_stage": "active",
    },
    "data": {
        "metrics": [
            {"key": "loss", "value": 0.333, "timestamp": 1795341596972, "step": 2},
            {"key": "lr", "value": "NaN", "timestamp": 1795341595972, "step": 1},
        ],
        "params": [{"key": "lr", "value": "0.1"}],
        "tags": [{"key": "mlflow.runName", "value": "r0"}, {"key": "mlflow.user", "value": "ana"}],
    },
    "inputs": {},
    "outputs": {},
}


def test_snapshot_of_the_reference_shape():
    snap = snapshot(RUN, "https://user:pw@mlflow.example.com:8443/ml/", {"1": "bert"})
    assert snap.ref == "5f2a" and snap.state is RunState.RUNNING
    assert (snap.name, snap.owner, snap.experiment) == ("r0", "ana", "bert")
    assert snap.step == 2 and snap.metrics["loss"] == 0.333 and math.isnan(snap.metrics["lr"])
    assert snap.started_at == datetime(2026, 11, 22, 9, 59, 54, 972000, tzinfo=UTC)
    assert snap.heartbeat_at == datetime(2026, 11, 22, 9, 59, 56, 972000, tzinfo=UTC)
    assert snap.ended_at is None
    assert snap.url == "https://mlflow.example.com:8443/ml/#/experiments/1/runs/5f2a"  # no credentials


def test_snapshot_without_data_or_known_status():
    snap = snapshot({"info": {"run_id": "x", "experiment_id": "3", "status": "WEIRD"}}, "http://h")
    assert snap.state is RunState.UNKNOWN
    assert (snap.step, snap.metrics, snap.params, snap.heartbeat_at) == (None, {}, {}, None)
    assert snap.experiment == "3"  # the id when the name is not known


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(0.5, 0.5), ("NaN", math.nan), ("Infinity", math.inf), ("-Infinity", -math.inf),
     (1.7976931348623157e308, math.inf), (-1.7976931348623157e308, -math.inf), (3, 3.0)],
)  # fmt: skip
def test_metric_value(raw, expected):
    value = metric_value(raw)
    assert math.isnan(value) if math.isnan(expected) else value == expected


@pytest.mark.parametrize(
    ("params", "tags", "step", "expected"),
    [
        ({}, {}, 5, None),
        ({"epochs": "10"}, {}, 3, 10),  # logs per epoch: the epoch count is the total
        ({"epochs": "10"}, {}, 10, 10),  # 1-based epochs end at the count itself
        ({"epochs": "10"}, {}, 11, None),  # step passed the epochs: it logs per batch
        ({"epochs": "10"}, {}, None, 10),
        ({"num_train_epochs": "3.0"}, {}, 1, 3),
        ({"num_train_epochs": "2.5"}, {}, 1, None),
        ({"max_steps": "-1", "num_train_epochs": "3"}, {}, 2, 3),  # HF: -1 means unset
        ({"max_steps": "5000", "epochs": "3"}, {}, 400, 5000),  # step units win
        ({"total_steps": "800"}, {}, 900, 800),
        ({"max_steps": "5000"}, {"readybot.total_steps": "4000"}, 1, 4000),  # the team's word wins
        ({"epochs": "many"}, {}, 1, None),
    ],
)
def test_total_steps(params, tags, step, expected):
    assert total_steps(params, tags, step) == expected


def test_latest_per_step_keeps_the_newest_timestamp():
    points = [
        metric_point({"step": 2, "value": 1.0, "timestamp": 30}),
        metric_point({"step": 1, "value": 5.0, "timestamp": 10}),
        metric_point({"step": 2, "value": 9.0, "timestamp": 20}),
    ]
    assert [(p.step, p.value) for p in latest_per_step(points)] == [(1, 5.0), (2, 1.0)]


def test_ui_url_drops_credentials_and_trailing_slash():
    assert ui_url("http://u:p@127.0.0.1:5000/") == "http://127.0.0.1:5000"
