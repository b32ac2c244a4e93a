"""The target alert message and chart payload: Block Kit limits, mrkdwn escaping, JSON-safe points."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

from bot.jobs.targets import MAX_ALERTS_PER_MESSAGE
from bot.notify.messages import build
from bot.notify.target_alert import CHART, MAX_CHART_POINTS, TEMPLATE, chart_file, chart_payload
from bot.notify.uploads import file_for
from bot.sandbox import block_kit_errors
from integrations.base import MetricPoint

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def item(alert_id: int = 1, metric: str = "val_acc", name: str = "resnet") -> dict:
    return {
        "alert_id": alert_id, "target_id": 3, "metric": metric, "op": ">=", "threshold": 0.9, "patience": 2,
        "value": 0.93, "step": 5, "at": AT.isoformat(), "since_start_s": 7500.0, "connection": "mlflow",
        "run": {"id": 1, "ref": "abc", "name": name, "url": "https://mlflow.example/#/runs/abc", "experiment": None},
    }


def test_one_alert_reads_well_and_has_four_buttons():
    message = build(TEMPLATE, {"alerts": [item()], "log": []})
    assert message.text.startswith(":dart: Run *<https://mlflow.example/#/runs/abc|resnet>* reached its target")
    body = json.dumps(message.blocks)
    assert "0.93" in body and "step 5" in body and "&gt;= 0.9 for 2 evals" in body and "2h 5m after" in body
    [row] = [b for b in message.blocks if b["type"] == "actions"]
    assert [e["action_id"] for e in row["elements"]] == ["target_review", "target_snooze", "target_mute", "target_ack"]
    assert {e["value"] for e in row["elements"]} == {"1"} and block_kit_errors(message.blocks) == []


def test_a_full_group_fits_one_message():
    alerts = [item(i, name=f"run-{i}") for i in range(1, MAX_ALERTS_PER_MESSAGE + 1)]
    log = [{"alert_id": i, "action": a, "user": "U1", "until": AT.isoformat()} for i in range(1, 11)
           for a in ("ack", "snooze", "mute", "review")]
    message = build(TEMPLATE, {"alerts": alerts, "log": log})
    assert block_kit_errors(message.blocks) == []
    names = ", ".join(f"run-{i}" for i in range(1, MAX_ALERTS_PER_MESSAGE + 1))
    assert message.text == f"{MAX_ALERTS_PER_MESSAGE} runs reached their targets: {names}"
    assert len({b["block_id"] for b in message.blocks if b["type"] == "actions"}) == MAX_ALERTS_PER_MESSAGE


def test_one_run_crossing_two_targets_is_not_called_two_runs():
    second = {**item(2, metric="val/acc"), "target_id": 4}
    message = build(TEMPLATE, {"alerts": [item(1), second], "log": []})
    assert message.text == "resnet reached 2 targets"
    assert message.blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "resnet reached 2 targets"}}
    assert block_kit_errors(message.blocks) == []


def test_names_are_escaped_and_user_ids_are_checked():
    message = build(TEMPLATE, {"alerts": [item(metric="a<b>&c", name="<!channel>")],
                               "log": [{"alert_id": 1, "action": "ack", "user": "<!here>"}]})
    body = json.dumps(message.blocks)
    assert "a&lt;b&gt;&amp;c" in body and "&lt;!channel&gt;" in body and "&lt;!here&gt;" in body
    assert "<!channel>" not in body and "<!here>" not in body


def test_chart_payload_is_json_safe_and_bounded():
    points = [MetricPoint(step=i, value=0.5 + i / 10_000, at=AT) for i in range(5_000)]
    points.append(MetricPoint(step=5_000, value=math.nan, at=AT))
    payload = chart_payload(item(), points)
    json.dumps(payload, allow_nan=False)  # PostgreSQL's json type rejects NaN
    assert len(payload["points"]) <= MAX_CHART_POINTS + 1
    assert payload["points"][0][0] == 0 and payload["points"][-1] == [5_000, "nan"]
    name, png, comment = file_for(CHART, payload)
    assert name == "val_acc-resnet.png" and png.startswith(b"\x89PNG") and "val_acc" in comment
    assert chart_file(payload)[0] == name
