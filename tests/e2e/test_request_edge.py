"""Hostile but well-formed requests at the HTTP edge (issue 12, items 8 and 9): each is answered
with a clear 4xx or a reply, never a 500 or a traceback, and a replayed request creates nothing."""

from __future__ import annotations

import json
import logging

import pytest
import requests
from sqlalchemy import func, select

from bot.store.models import Review
from tests.e2e.test_push_runs import connect_push


def _raw_push(bot, token: str, body: str) -> requests.Response:
    return requests.post(f"{bot.server.url}/api/v1/runs/resnet-7", data=body.encode("utf-8", "surrogatepass"),
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                         timeout=10)


def _no_traceback(caplog) -> None:
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]


@pytest.mark.parametrize("body, field", [
    ('{"step": 9223372036854775808}', "step"),
    ('{"step": 1e300}', "step"),
    ('{"total_steps": ' + "1" + "0" * 400 + "}", "total_steps"),
    ('{"metrics": {"loss": ' + "9" * 400 + "}}", "loss"),
    ('{"params": {"lr": ' + "5" * 5000 + "}}", "lr"),
    ('{"name": "a\\ud800b"}', "name"),
    ('{"params": {"k\\udfff": "v"}}', "params"),
    ('{"params": ' + '{"a": ' * 2500 + "1" + "}" * 2501, "nested"),
    ('{"params": {"a": ' + "[" * 60 + "]" * 60 + "}}", "nested"),
])
def test_push_of_out_of_range_values_is_a_400_naming_the_field(bot, caplog, body, field):
    token = connect_push(bot)
    resp = _raw_push(bot, token, body)
    assert resp.status_code == 400, resp.text
    assert field in resp.json()["error"]
    _no_traceback(caplog)
    assert "No runs are tracked" in bot.reply("runs")


def test_push_of_the_largest_64_bit_step_is_accepted(bot):
    token = connect_push(bot)
    resp = _raw_push(bot, token, json.dumps({"step": 2**31 - 1, "metrics": {"loss": 1e300}}))
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("timestamp", ["²", "1²", "9" * 5000])
def test_signature_timestamp_in_non_ascii_or_endless_digits_is_401(bot, caplog, timestamp):
    resp = bot.slack.command("connect push as evil", timestamp=timestamp)
    assert resp.status_code == 401
    _no_traceback(caplog)


@pytest.mark.parametrize("when", ["9999-12-31 23:59", "2099-01-01 10:00"])
def test_review_far_ahead_is_refused_clearly(bot, caplog, when):
    reply = bot.reply(f'review "Far" at {when} runs mlflow:abc')
    assert "too far ahead" in reply
    _no_traceback(caplog)
    with bot.services.store.tx() as s:
        assert s.scalar(select(func.count()).select_from(Review)) == 0
