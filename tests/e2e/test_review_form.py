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


def form(when: str, runs: str) -> dict:
    return {"title": {"value": "Sweep results"}, "when": {"value": when}, "runs": {"value": runs},
            "policy": {"value": {"type": "static_select", "selected_option": {"value": "warn"}}}}


def test_a_time_already_past_is_refused_inside_the_form(bot):
    bot.reply("connect push as trainer")
    bot.reply("track trainer:r1")
    resp = bot.slack.view_submission("review_modal", form("2020-01-01 10:00", "trainer:r1"),
                                     private_metadata=CHANNEL)
    body = resp.json()
    assert body["response_action"] == "errors" and "already passed" in body["errors"]["when"]
    assert "No upcoming reviews" in bot.reply("reviews")


def test_an_unknown_connection_is_refused_on_the_runs_field(bot):
    resp = bot.slack.view_submission("review_modal", form("tomorrow 14:00", "nowhere:r1"),
                                     private_metadata=CHANNEL)
    assert "nowhere" in resp.json()["errors"]["runs"]


def test_a_good_form_closes_and_confirms_privately(bot):
    bot.reply("connect push as trainer")
    bot.reply("track trainer:r1")
    resp = bot.slack.view_submission("review_modal", form("tomorrow 14:00", "trainer:r1"),
                                     private_metadata=CHANNEL)
    assert resp.status_code == 200 and not resp.text.strip()
    assert bot.fake.wait_for(lambda: bot.fake.ephemerals(CHANNEL))
    assert "Sweep results" in bot.fake.ephemerals(CHANNEL)[-1]["text"]
