"""When a run gets the one "unlikely to reach the target" message (bot.core.forecast_alert)."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.forecast import Forecast, ForecastKind, forecast
from bot.core.forecast_alert import unlikely
from bot.core.targets import Rule
from integrations.base import MetricPoint

T0 = datetime(2026, 12, 2, 9, tzinfo=UTC)
ACC = Rule("val_acc", ">=", 0.9)
LOSS = Rule("val_loss", "<=", 0.2)


def plateau(rule: Rule, value: float, pm: float, confident: bool = True) -> Forecast:
    return Forecast(ForecastKind.PLATEAU, rule, plateau=value, plateau_pm=pm, confident_miss=confident)


def flattening(n: int, top: float = 0.87) -> list[MetricPoint]:
    rnd = random.Random(1)
    return [MetricPoint(step=s * 100, value=top - 0.3 * math.exp(-s / 8) + rnd.gauss(0, 0.002),
                        at=T0 + timedelta(minutes=s)) for s in range(1, n + 1)]


def test_a_confident_plateau_below_a_maximize_target_alerts():
    assert unlikely(plateau(ACC, 0.87, 0.01), "running")


def test_a_plateau_whose_range_reaches_the_target_does_not():
    assert not unlikely(plateau(ACC, 0.87, 0.04, confident=False), "running")
    # even if flagged, the upper edge of the range meets the target: not sure enough
    assert not unlikely(plateau(ACC, 0.87, 0.04), "running")


def test_minimize_is_the_mirror():
    assert unlikely(plateau(LOSS, 0.30, 0.05), "running")
    assert not unlikely(plateau(LOSS, 0.30, 0.15), "running")  # lower edge 0.15 meets <= 0.2


@pytest.mark.parametrize("state", ["finished", "failed", "killed", "stalled", "unknown"])
def test_only_running_runs(state):
    assert not unlikely(plateau(ACC, 0.87, 0.01), state)


def test_muted_never_alerts():
    assert not unlikely(plateau(ACC, 0.87, 0.01), "running", muted=True)


def test_not_enough_data_and_reached_never_alert():
    assert not unlikely(Forecast(ForecastKind.UNKNOWN, ACC, reason="only 3 points"), "running")
    assert not unlikely(Forecast(ForecastKind.REACHED, ACC), "running")


def test_a_crossing_after_the_last_step_alerts_only_when_the_end_is_known():
    late = Forecast(ForecastKind.REACH, ACC, step=50_000, step_low=40_000, step_high=60_000,
                    confident_miss=True, total_steps=20_000)
    assert unlikely(late, "running")
    assert not unlikely(Forecast(ForecastKind.REACH, ACC, step=50_000, total_steps=None), "running")


def test_a_real_flattening_curve_alerts_only_after_enough_points():
    assert not unlikely(forecast(flattening(8), ACC, T0), "running")  # too few points
    assert unlikely(forecast(flattening(30), ACC, T0), "running")
    assert not unlikely(forecast(flattening(30, top=0.95), ACC, T0), "running")  # it will get there


def test_forecast_line_writes_times_as_slack_date_tokens_and_escapes_run_data():
    from bot.notify.forecast_alert import forecast_line

    at = datetime(2026, 12, 3, 14, tzinfo=UTC)
    reach = Forecast(ForecastKind.REACH, Rule("acc<b>", ">=", 0.9), step=41_000, step_low=38_000, step_high=45_000,
                     at=at, at_low=at - timedelta(hours=2), at_high=at + timedelta(hours=3))
    line = forecast_line(reach, T0)
    assert line.startswith("expected to reach acc&lt;b&gt; 0.90 at step ~41k, around <!date^")
    assert f"(range <!date^{int((at - timedelta(hours=2)).timestamp())}^{{time}}|12:00 UTC>-" in line
    assert f"<!date^{int((at + timedelta(hours=3)).timestamp())}^{{time}}|17:00 UTC>)" in line
    assert forecast_line(plateau(ACC, 0.87, 0.01), T0) == "projected to plateau at val_acc 0.87 ± 0.01, below the 0.90 target"


def test_review_warning_shows_each_waiting_runs_forecast():
    from bot.notify.messages import build
    from tests.unit.test_plurals import payloads

    payload = payloads(1)["review_warning"]
    payload["waiting"] = [{**row, "forecast": ":crystal_ball: not enough data to forecast"} for row in payload["waiting"]]
    assert payload["waiting"]
    text = str(build("review_warning", payload).as_kwargs())
    assert "not enough data to forecast" in text


# --- the message's buttons after a choice (bot.notify.forecast_alert) -------------------------


def _message_payload(*log: tuple[str, str]) -> dict:
    return {"run": {"id": 7, "name": "resnet", "ref": "r7", "url": None, "experiment": None, "step": 4000},
            "connection": "mlflow", "target_id": 3, "metric": "val_acc", "op": ">=", "threshold": 0.9,
            "forecast": "projected to plateau at val_acc 0.87", "log": [{"action": a, "user": u} for a, u in log]}


def _shown(payload: dict) -> tuple[str, list[str]]:
    from bot.notify.forecast_alert import unlikely_message

    message = unlikely_message(payload)
    text = " ".join(b["text"]["text"] for b in message.blocks if isinstance(b.get("text"), dict))
    text += " ".join(e.get("text", "") for b in message.blocks for e in b.get("elements", [])
                     if isinstance(e.get("text"), str))
    labels = [e["text"]["text"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]]
    return text, labels


@pytest.mark.parametrize("log, says, labels", [
    ((), None, ["Stop run", "Keep going", "Mute for this run"]),
    ((("keep", "U1"),), "<@U1> chose to keep going", []),
    ((("mute", "U2"),), "Muted for this run by <@U2>", ["Unmute"]),
    ((("mute", "U2"), ("unmute", "U1")), "Unmuted by <@U1>", ["Mute for this run"]),
    ((("mute", "U2"), ("unmute", "U1"), ("mute", "U3")), "Muted for this run by <@U3>", ["Unmute"]),
])
def test_the_message_says_the_latest_choice_and_offers_what_still_means_something(log, says, labels):
    text, shown = _shown(_message_payload(*log))
    assert shown == labels
    if says:
        assert says in text


@pytest.mark.parametrize("log, action, changes", [
    ((), "keep", True), ((), "mute", True), ((), "unmute", False),
    ((("keep", "U1"),), "mute", False), ((("keep", "U1"),), "keep", False),
    ((("mute", "U1"),), "mute", False), ((("mute", "U1"),), "unmute", True), ((("mute", "U1"),), "keep", False),
    ((("mute", "U1"), ("unmute", "U1")), "mute", True), ((("mute", "U1"), ("unmute", "U1")), "unmute", False),
])
def test_a_press_changes_something_only_when_its_button_is_shown(log, action, changes):
    from bot.notify.forecast_alert import can_press

    assert can_press(_message_payload(*log), action) is changes
