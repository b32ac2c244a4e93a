"""A button value or form origin that names a row id no column can hold (a forged or corrupted
payload: Slack sends back only what we put there) is a clear refusal or nothing, never a 500 or
a traceback: our ids are 32-bit on PostgreSQL and 64-bit on SQLite, and both refuse a bigger
number in a lookup with an error of their own."""

import logging
import re

import pytest

from tests.e2e.test_http_fuzz import ACTIONS, row_counts

HUGE = (str(2**31), str(2**63), str(2**70), "9" * 40)


@pytest.fixture
def channel(bot, caplog):  # noqa: ANN001
    caplog.set_level(logging.DEBUG)
    bot.fake.add_channel("C1", "general", ["U0BOT", "U1"])
    bot.reply("connect push as trainer")
    bot.reply("track trainer:r1")
    bot.reply("target loss <= 0.1")
    return bot


def no_traceback(caplog) -> None:  # noqa: ANN001
    assert "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records), caplog.text[-2000:]


@pytest.mark.parametrize("value", HUGE)
def test_a_button_naming_an_id_past_any_column_changes_nothing_and_fails_nothing(channel, caplog, value):
    before = row_counts(channel.services.store)
    for action in ACTIONS:
        caplog.clear()
        resp = channel.slack.block_action(action, value, message_ts="1700000000.000100")
        channel.settle()
        assert resp.status_code < 500, (action, resp.status_code, resp.text[:300])
        no_traceback(caplog)
    assert row_counts(channel.services.store) == before


@pytest.mark.parametrize("value", HUGE)
def test_a_decision_form_from_an_id_past_any_column_is_refused_in_the_form(channel, caplog, value):
    review = int(re.search(r"review #(\d+)", channel.reply('review "Big" at 15:00 runs trainer:r1'))[1])
    before = row_counts(channel.services.store)
    for metadata, run in ((f"C1:{value}", "1"), (f"C1:{review}", value)):
        caplog.clear()
        values = {"choice": {"value": {"type": "static_select", "selected_option": {"value": "ship"}}},
                  "runs": {"value": {"type": "multi_static_select", "selected_options": [{"value": run}]}}}
        resp = channel.slack.view_submission("decision_modal", values, private_metadata=metadata)
        channel.settle()
        assert resp.status_code == 200, (metadata, run, resp.status_code, resp.text[:300])
        assert "errors" in resp.text, (metadata, run, resp.text[:300])
        no_traceback(caplog)
    assert row_counts(channel.services.store) == before


@pytest.mark.parametrize("typed", ["target remove #99999999999", "review cancel 2147483648",
                                   "decisions edit 99999999999", "decisions remove #2147483648"])
def test_a_typed_id_past_any_column_is_refused_with_the_listing_to_look_at(channel, caplog, typed):
    before = row_counts(channel.services.store)
    caplog.clear()
    reply = channel.reply(typed)
    assert "is not an id" in reply and "/ready " in reply, reply
    no_traceback(caplog)
    assert row_counts(channel.services.store) == before
