"""A hypothesis fuzz of the whole HTTP surface (issue 12): slash command text (grammar-shaped and
random), button and form payloads, events, push bodies and the token-protected feeds, all sent
to the running bot as Slack or a training job would. For every input: no 500, no traceback in
the logs, and a request that was refused changed nothing stored.

READYBOT_FUZZ_EXAMPLES sets the examples per surface (default 60, quick enough for every run);
e.g. `READYBOT_FUZZ_EXAMPLES=5000 pytest tests/e2e/test_http_fuzz.py -s` for a long hunt. With
`-s` each surface prints how many inputs it tried.
"""

from __future__ import annotations

import json
import logging
import os
import re

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.commands.help import USAGE
from bot.store.models import Base
from tests.malformed import BUTTONS, VIEWS

EXAMPLES = int(os.environ.get("READYBOT_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
# Bookkeeping a refused request may touch: replay keys, leases, the users.info time-zone cache.
NOT_STATE = {"seen_requests", "leases", "user_profiles"}
ACTIONS = (*BUTTONS, "run_stop", "forecast_keep", "forecast_mute", "forecast_unmute", "review_record_decision",
           "home_connect", "home_postpone", "home_target_remove", "home_review", "home_untrack", "nonexistent")
CALLBACKS = (*VIEWS, "decision_modal", "decision_edit_modal", "nonexistent_modal")
REFUSED = (":warning:", ":x:")

# Text Slack can carry: any unicode but lone surrogates (a form body is UTF-8).
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
words = st.sampled_from(["runs", "page", "0", "-1", "99999999999999999999", "on", "at", "lead", "for", "evals",
                         "steps", "as", "key=", "key=x", "max", "min", "last", "remove", "cancel", "now", "off",
                         "prod:r1", "trainer:r1", "experiment/x", '"quoted title"', "9999-12-31 23:59", "fri",
                         "14:00", "2h", ">=", "<", "0.9", "nan", "inf", "1e309", "<!channel>", "<@U1>", "\u00b2",
                         "https://127.0.0.1:1/", "http://user:pw@h/", "/etc", "mon-fri", "\x00", ""])
verbs = st.sampled_from([*USAGE, "leaderboard", "decisions", "stop", "me", "bogus"])
command_text = st.one_of(text, st.builds(lambda v, ws: " ".join([v, *ws]), verbs, st.lists(words, max_size=8)))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(text, inner, max_size=5), max_leaves=25)
push_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({}, optional={"state": st.sampled_from(["running", "finished", "failed", "x"]) | json_values,
                                        "step": st.integers() | json_values,
                                        "total_steps": st.integers() | json_values,
                                        "metrics": st.dictionaries(text, st.floats() | st.integers() | json_values,
                                                                   max_size=4) | json_values,
                                        "params": st.dictionaries(text, text | json_values, max_size=4),
                                        "started_at": text | json_values, "name": text | json_values}))


def row_counts(store) -> dict[str, int]:  # noqa: ANN001
    with store.tx() as s:
        return {t.name: s.scalar(select(func.count()).select_from(t))
                for t in Base.metadata.sorted_tables if t.name not in NOT_STATE}


class Surface:
    """Sends inputs, checks each answer and the logs, and counts what it tried."""

    def __init__(self, bot, caplog, name: str):  # noqa: ANN001
        self.bot, self.caplog, self.name, self.tried = bot, caplog, name, 0

    def check(self, resp: requests.Response, refused: bool, before: dict[str, int]) -> None:
        self.tried += 1
        assert resp.status_code != 500 and resp.status_code < 500, (resp.status_code, resp.text[:300])
        assert "Traceback" not in self.caplog.text and not any(r.exc_info for r in self.caplog.records), \
            self.caplog.text[-2000:]
        if refused:
            assert row_counts(self.bot.services.store) == before, "a refused request changed what is stored"

    def report(self) -> None:
        print(f"\nfuzz {self.name}: {self.tried} inputs, 0 answers of 500, 0 tracebacks")


@pytest.fixture
def surface(bot, caplog, request):  # noqa: ANN001
    caplog.set_level(logging.DEBUG)
    bot.fake.add_channel("C1", "general", ["U0BOT", "U1"])
    reply = bot.reply("connect push as trainer")
    token = re.search(r"rbp_[\w-]+", reply)[0]
    bot.reply("track trainer:r1")
    bot.reply("target loss <= 0.1")
    made = Surface(bot, caplog, request.node.name)
    made.token = token
    yield made
    made.report()


def refused_text(resp: requests.Response) -> bool:
    try:
        said = resp.json().get("text", "") if resp.text.strip() else ""
    except ValueError:
        return False
    return said.startswith(REFUSED)


def test_fuzz_slash_command_text(surface):
    @FUZZ
    @given(command_text)
    def one(words_typed: str) -> None:
        before = row_counts(surface.bot.services.store)
        surface.caplog.clear()
        resp = surface.bot.slack.command(words_typed)
        surface.check(resp, refused_text(resp), before)

    one()


def test_fuzz_buttons_and_forms(surface):
    @FUZZ
    @given(st.sampled_from(ACTIONS), text | st.sampled_from(["1", "0", "-1", "{}", '{"channel": "C9"}', "1:1"]),
           st.sampled_from(CALLBACKS), st.dictionaries(text, st.dictionaries(text, json_values, max_size=2),
                                                       max_size=3), st.booleans())
    def one(action: str, value: str, callback: str, values: dict, form: bool) -> None:
        before = row_counts(surface.bot.services.store)
        surface.caplog.clear()
        if form:
            resp = surface.bot.slack.view_submission(callback, values or dict(VIEWS.get(callback, {})),
                                                     private_metadata=value)
        else:
            resp = surface.bot.slack.block_action(action, value, message_ts="1700000000.000100")
        # A form's errors answer refuses; a click's outcome comes later: it may legitimately act.
        surface.check(resp, form and "errors" in resp.text, before)

    one()


def test_fuzz_events(surface):
    @FUZZ
    @given(st.dictionaries(st.sampled_from(["type", "user", "channel", "tab", "text", "channel_type", "bot_id",
                                            "subtype", "ts", "view"]), json_values | text, max_size=8)
           | st.fixed_dictionaries({"type": st.sampled_from(["app_home_opened", "message", "app_mention",
                                                              "member_joined_channel", "tokens_revoked"])},
                                   optional={"user": text, "channel": text, "tab": text, "text": text,
                                             "channel_type": st.sampled_from(["im", "channel"])}))
    def one(event: dict) -> None:
        before = row_counts(surface.bot.services.store)
        surface.caplog.clear()
        resp = surface.bot.slack.event(event)
        surface.check(resp, resp.status_code >= 400, before)

    one()


def test_fuzz_push_bodies_and_feeds(surface):
    base = surface.bot.server.url

    @FUZZ
    @given(push_bodies, st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=40),
           st.booleans(), text)
    def one(body, ref: str, good_token: bool, token: str) -> None:  # noqa: ANN001
        before = row_counts(surface.bot.services.store)
        surface.caplog.clear()
        # An HTTP client cannot send CR or LF in a header (requests refuses to), nor can Slack's caller.
        sent = surface.token if good_token else re.sub(r"[\r\n]", "", token)
        auth = {"Authorization": f"Bearer {sent}".encode("utf-8", "replace")}
        data = json.dumps(body, allow_nan=True).encode()
        resp = requests.post(f"{base}/api/v1/runs/{requests.utils.quote(ref, safe='')}", data=data,
                             headers={**auth, "Content-Type": "application/json"}, timeout=10)
        surface.check(resp, resp.status_code != 200, before)
        before = row_counts(surface.bot.services.store)  # an accepted push stores its run
        for feed in (f"/calendar/{requests.utils.quote(token or 'x', safe='')}.ics",
                     f"/decisions/{requests.utils.quote(token or 'x', safe='')}.md",
                     f"/decisions/{requests.utils.quote(token or 'x', safe='')}.csv"):
            got = requests.get(base + feed, timeout=10)
            surface.check(got, True, before)
            assert got.status_code == 404  # a guessed token never opens a channel's feed

    one()
