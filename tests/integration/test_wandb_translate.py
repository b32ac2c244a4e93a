"""W&B translation edge cases that the fake server never produces, checked on raw nodes."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

from integrations.base import RunState
from integrations.wandb import translate

NODE = {
    "name": "ab12",
    "displayName": None,
    "state": "finished",
    "createdAt": "2026-01-05T09:00:00",
    "heartbeatAt": "2026-01-05T10:00:00",
    "config": json.dumps({"epochs": {"value": 10, "desc": None}, "_wandb": {"value": {}}, "plain": 3}),
    "summaryMetrics": json.dumps({"loss": float("nan"), "_runtime": 3600}),
    "historyKeys": json.dumps({"keys": {}, "lastStep": 41}),
    "user": None,
}


def snapshot(**changes):
    return translate.to_snapshot(
        {**NODE, **changes}, ref="e/p/ab12", entity="e", project="p", api_url="https://api.wandb.ai"
    )


def test_step_falls_back_to_history_keys_last_step():
    run = snapshot()
    assert run.step == 41
    assert run.total_steps == 10  # from the wrapped `epochs`
    assert run.params == {"epochs": "10", "plain": "3"}  # unwrapped, W&B's own `_wandb` dropped
    assert math.isnan(run.metrics["loss"])  # a diverged loss is reported, not hidden


def test_history_keys_may_arrive_as_an_object():
    assert snapshot(historyKeys={"lastStep": 7}).step == 7
    assert snapshot(historyKeys=None, summaryMetrics=None).step is None


def test_finished_run_ends_at_its_last_heartbeat_and_links_to_wandb_ai():
    run = snapshot()
    assert run.state is RunState.FINISHED
    assert run.ended_at == datetime(2026, 1, 5, 10, tzinfo=UTC)
    assert run.name == "ab12"  # no display name: the run id
    assert run.owner is None
    assert run.url == "https://wandb.ai/e/p/runs/ab12"


def test_self_hosted_ui_shares_the_api_host():
    assert translate.app_url("https://wandb.example.com/") == "https://wandb.example.com"


def test_broken_json_fields_read_as_empty():
    assert translate.json_field("{not json") == {}
    assert translate.json_field("[1, 2]") == {}
