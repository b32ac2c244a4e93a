"""Messages that stay true (issue 11), at the level of the message builders: what each message
says about a run must still hold for the run as it is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.notify.messages import build
from bot.notify.review_messages import warning_payload
from bot.store.models import Connection, Review, Run
from tests.slack_text import shown

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def a_run(state: str, **kw) -> Run:
    values = dict(id=1, ref="r1", name="resnet-7", state=state, step=20, total_steps=100,
                  eta=NOW + timedelta(hours=1), progress_at=NOW - timedelta(minutes=45))
    values.update(kw)
    return Run(**values)


def test_the_review_warning_gives_a_stalled_run_no_eta():
    review = Review(id=3, title="Ablation", at=NOW + timedelta(hours=2), state="waiting", lead_minutes=120,
                    buffer_minutes=30)
    conn = Connection(id=1, name="mlflow", kind="mlflow")
    payload = warning_payload(review, [(a_run("stalled"), conn), (a_run("running", ref="r2", name="vit"), conn)], NOW)
    text = shown(build("review_warning", payload).as_kwargs())
    stalled_line = next(line for line in text.splitlines() if "resnet-7" in line)
    assert "stalled 45 min" in stalled_line and "ETA" not in stalled_line
    assert "ETA" in next(line for line in text.splitlines() if "vit" in line)


def alert(state: str = "running", diverged: bool = False, log: list | None = None) -> dict:
    item = {"alert_id": 1, "target_id": 1, "metric": "val_acc", "op": ">=", "threshold": 0.9, "patience": 1,
            "value": 0.95, "step": 400, "at": NOW.isoformat(), "since_start_s": 60.0, "connection": "mlflow",
            "run": {"id": 1, "ref": "r1", "name": "resnet-7", "url": None, "experiment": None},
            "now": {"state": state, "step": 500, "diverged": diverged}}
    return {"alerts": [item], "log": log or []}


def buttons_of(payload: dict) -> set[str]:
    message = build("target_alert", payload)
    return {e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]}


def test_snooze_is_offered_only_while_a_later_alert_can_come():
    assert "target_snooze" in buttons_of(alert("running"))
    assert "target_snooze" in buttons_of(alert("stalled"))  # may move again
    for state in ("finished", "failed", "killed"):
        assert "target_snooze" not in buttons_of(alert(state))
    assert "target_snooze" not in buttons_of(alert("running", diverged=True))
    muted = alert("running", log=[{"alert_id": 1, "action": "mute", "user": "U1"}])
    assert buttons_of(muted) == {"target_review", "target_ack"}  # a muted target alerts no more


def test_an_alert_stored_before_it_knew_the_runs_state_keeps_its_buttons():
    payload = alert()
    del payload["alerts"][0]["now"]
    assert buttons_of(payload) == {"target_review", "target_snooze", "target_mute", "target_ack"}


def test_the_form_an_alert_opens_asks_to_be_told_when_closed_and_is_valid_block_kit():
    from bot.handlers.review_form import form_origin, review_modal_view
    from bot.sandbox import view_errors

    view = review_modal_view("C9", ["mlflow:abc"], alert_id=12)
    assert view_errors(view) == [] and view["notify_on_close"] is True
    assert form_origin(view["private_metadata"]) == ("C9", 12)
    plain = review_modal_view("C9", [])
    assert "notify_on_close" not in plain and form_origin(plain["private_metadata"]) == ("C9", None)
