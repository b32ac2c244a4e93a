"""The review form over signed requests: opened from `/ready review`, checked field by field.
Scheduling through it, with a real tracker, is in test_reviews.py."""

from __future__ import annotations

CHANNEL = "C1"


def test_the_form_refuses_bad_fields_one_by_one(bot):
    resp = bot.slack.view_submission("review_modal", {
        "title": {"value": "x"}, "when": {"value": "someday"}, "runs": {"value": "a,,b"},
        "lead": {"value": "9d"}, "policy": {"value": {"type": "static_select", "selected_option": {"value": "warn"}}},
    }, private_metadata=CHANNEL)
    errors = resp.json()["errors"]
    assert set(errors) == {"when", "runs", "lead"}


def test_form_opens_with_the_runs_filled_in(bot):
    bot.command("review runs mlflow:abc,mlflow:def")
    bot.fake.wait_for(lambda: bot.fake.modals())
    view = bot.fake.modals()[-1]
    runs = next(b for b in view["blocks"] if b["block_id"] == "runs")
    assert runs["element"]["initial_value"] == "mlflow:abc, mlflow:def"
    assert view["private_metadata"] == CHANNEL and view["callback_id"] == "review_modal"


def test_the_form_the_target_alert_opens_is_valid_block_kit():
    from bot.handlers.reviews import review_modal_view
    from bot.sandbox import view_errors

    view = review_modal_view("C9", ["mlflow:abc"], calendar_sync=True)
    assert view_errors(view) == [] and view["callback_id"] == "review_modal"
    assert [b["block_id"] for b in view["blocks"]][-1] == "gcal"
