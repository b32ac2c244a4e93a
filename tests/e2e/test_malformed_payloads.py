"""Signed but malformed interactivity and event payloads (issue 12, item 9): each is answered 200
or 400 with one log line, never a 500 or a traceback, and changes nothing stored. The cases are a
table (tests/malformed.py): payload kinds × the fields readybot reads × values Slack never sends."""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from bot.store.models import Base
from tests.malformed import cases

# Bookkeeping, not a change a user could see: which request ids were already handled, and the
# users.info answers (time zones) cached on the way.
NOT_STATE = {"seen_requests", "leases", "user_profiles"}


def row_counts(store) -> dict[str, int]:
    with store.tx() as s:
        return {t.name: s.scalar(select(func.count()).select_from(t))
                for t in Base.metadata.sorted_tables if t.name not in NOT_STATE}


def test_every_malformed_payload_is_a_200_or_400_without_a_traceback(bot, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    bot.reply("connect push as trainer")
    bot.reply("track trainer:r1")
    table = cases()
    assert len(table) >= 255
    before = row_counts(bot.services.store)
    wrong: list[str] = []
    for case in table:
        caplog.clear()
        resp = bot.slack.post(case.body, case.content_type)
        loud = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name != "tests"]
        if resp.status_code not in (200, 400):
            wrong.append(f"{case.name}: HTTP {resp.status_code}")
        if "Traceback" in caplog.text or any(r.exc_info for r in caplog.records):
            wrong.append(f"{case.name}: traceback logged")
        # One line per request; a second may be the previous request's listener, which runs
        # after its ack (an event's DM answer that Slack refuses), so two are tolerated here.
        if len(loud) > 2 or any("\n" in r.getMessage() for r in loud):
            wrong.append(f"{case.name}: {len(loud)} log lines")
        after = row_counts(bot.services.store)
        if after != before:
            changed = {k: (before[k], after[k]) for k in after if after[k] != before[k]}
            wrong.append(f"{case.name}: changed the database {changed}")
            before = after
    err = capfd.readouterr().err
    assert "Traceback" not in err, err[-3000:]
    assert not wrong, f"{len(wrong)} of {len(table)}:\n" + "\n".join(wrong[:60])


def test_a_form_value_with_a_nul_character_is_refused_and_stores_nothing(bot):
    """Found by the HTTP fuzz: PostgreSQL text cannot hold \\x00, and the insert failed with a 500."""
    before = row_counts(bot.services.store)
    values = {"title": {"title": {"type": "plain_text_input", "value": "Sweep\x00"}},
              "when": {"when": {"type": "plain_text_input", "value": "tomorrow 14:00"}},
              "runs": {"runs": {"type": "plain_text_input", "value": "nowhere:r1"}}}
    resp = bot.slack.view_submission("review_modal", values)
    assert resp.status_code == 400
    answer = bot.slack.view_submission("standup_answer_view", {"q0": {"value": {"type": "plain_text_input",
                                                                                 "value": "did\x00things"}}})
    assert answer.status_code == 400
    assert row_counts(bot.services.store) == before
