"""A hypothesis fuzz of the whole HTTP surface (issue 12): slash command text (grammar-shaped and
random, and the `/ready me`, leaderboard, decisions and stop forms), button and form payloads (the
decision form too), events, push bodies and the token-protected feeds, all sent to the running
bot as Slack or a training job would. For every input: no 500, no traceback in the logs, and a
request that was refused changed nothing stored. Pushed runs with a fuzzed owner are also
followed to the message the dispatcher posts: posted once, no control character, no broadcast.

READYBOT_FUZZ_EXAMPLES sets the examples per surface (default 60, quick enough for every run);
e.g. `READYBOT_FUZZ_EXAMPLES=5000 pytest tests/e2e/test_http_fuzz.py -s` for a long hunt. With
`-s` each surface prints how many inputs and requests it tried (and a `fuzz-json` line).
"""

from __future__ import annotations

import json
import logging
import os
import re
import unicodedata

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.commands.help import USAGE
from bot.core.decisions import CHOICES
from bot.store.models import Base, Run
from tests.e2e.test_push_runs import push
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
# Whatever a training script may send as its run's owner: huge, control characters, emails,
# Slack mention syntax and broadcasts (a channel must never be pinged by an owner's text).
BROADCASTS = ("<!channel>", "<!here>", "<!everyone>", "<!subteam^")
odd_names = st.sampled_from(["\x00", "a\x00b", "\x07bell", "\x1b[31mred", "\x7f", "ali\tce", " ", "UNKNOWN",
                             "<@U1>", "<@U123>", "<@W9|x>", "U1", "<!channel>", "<!here> hi", "<!subteam^S1>",
                             "@channel", "*bold* _it_ `code`", "<http://evil|click>", "&lt;!channel&gt;",
                             "alice@example.com", "Alice@Example.COM", "a@b", "@x.y", "é" * 201, "o" * 450,
                             "😀" * 150, "trainer:bob", "a:b:c", '"quoted"', "\u202eevil", "\u200b"])
emails = st.builds(lambda user, host: f"{user}@{host}.com", text.filter(lambda t: "@" not in t), text)
owners = st.one_of(odd_names, text, st.text(min_size=190, max_size=700), emails,
                   st.builds(lambda n, c: f"<@U{n}>{c}", st.integers(0, 10**12), text),
                   st.builds(lambda a, b: a + b, odd_names, odd_names))
push_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({}, optional={"state": st.sampled_from(["running", "finished", "failed", "x"]) | json_values,
                                        "step": st.integers() | json_values,
                                        "total_steps": st.integers() | json_values,
                                        "metrics": st.dictionaries(text, st.floats() | st.integers() | json_values,
                                                                   max_size=4) | json_values,
                                        "params": st.dictionaries(text, text | json_values, max_size=4),
                                        "started_at": text | json_values, "name": text | json_values,
                                        "owner": owners | json_values}))
# /ready me forms (issue 11) with odd trackers and usernames.
trackers = st.sampled_from(["trainer", "TRAINER", "push", "mlflow", "nosuch", "", "trainer:x"]) | text
usernames = odd_names | text
me_text = st.one_of(
    st.just("me"),
    st.builds(lambda t, u: f"me {t}:{u}", trackers, usernames),
    st.builds(lambda t, u: f"me remove {t}:{u}", trackers, usernames),
    st.builds(lambda w: f"me mentions {w}", st.sampled_from(["on", "off", "ON", "maybe", ""]) | text),
    st.builds(lambda ws, u: " ".join(["me", *ws, u]), st.lists(words, max_size=4), usernames))
# The forms added with decisions and stop (issue 14), with odd words.
lead_words = st.sampled_from(["loss", "val_acc", "max", "min", "on", "trainer:experiment/x", "trainer:r1",
                              "experiment/", "last", "0", "-1", "10", "99999999999999999999", "1e9", '"reason"',
                              '"unclosed', "trainer:", ":r1", "nosuch:r1", "trainer:\x00", "trainer:" + "r" * 600])
issue14_text = st.builds(lambda verb, ws: " ".join([verb, *ws]), st.sampled_from(["leaderboard", "decisions", "stop"]),
                         st.lists(lead_words | words | text, max_size=6))


def row_counts(store) -> dict[str, int]:  # noqa: ANN001
    with store.tx() as s:
        return {t.name: s.scalar(select(func.count()).select_from(t))
                for t in Base.metadata.sorted_tables if t.name not in NOT_STATE}


class Surface:
    """Sends inputs, checks each answer and the logs, and counts what it tried."""

    def __init__(self, bot, caplog, name: str):  # noqa: ANN001
        self.bot, self.caplog, self.name = bot, caplog, name
        self.inputs = self.requests = self.refused = self.answers_500 = self.tracebacks = self.refused_changes = 0

    def begin(self, counts: bool = True) -> dict[str, int]:
        """One input starts: fresh logs, and what is stored before it (when a refusal is checked)."""
        self.inputs += 1
        # The previous input's click may still be acting after its answer; it is not this one's.
        self.bot.settle()
        self.caplog.clear()
        return row_counts(self.bot.services.store) if counts else {}

    def check(self, resp: requests.Response, refused: bool, before: dict[str, int]) -> None:
        # What a click or form does after its answer counts as its own (logs and stored rows).
        self.bot.settle()
        self.requests += 1
        self.answers_500 += resp.status_code >= 500
        assert resp.status_code < 500, (resp.status_code, resp.text[:300])
        self.no_traceback()
        if refused:
            self.refused += 1
            changed = row_counts(self.bot.services.store) != before
            self.refused_changes += changed
            assert not changed, "a refused request changed what is stored"

    def no_traceback(self) -> None:
        logged = "Traceback" in self.caplog.text or any(r.exc_info for r in self.caplog.records)
        self.tracebacks += logged
        assert not logged, self.caplog.text[-2000:]

    def report(self) -> None:
        print(f"\nfuzz {self.name}: {self.inputs} inputs, {self.requests} requests ({self.refused} refused), "
              f"{self.answers_500} answers of 500, {self.tracebacks} tracebacks, "
              f"{self.refused_changes} stored changes from refused requests")
        print("fuzz-json " + json.dumps({"surface": self.name, "inputs": self.inputs, "requests": self.requests,
                                         "refused": self.refused, "answers_500": self.answers_500,
                                         "tracebacks": self.tracebacks, "refused_changes": self.refused_changes}))


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
        before = surface.begin()
        resp = surface.bot.slack.command(words_typed)
        surface.check(resp, refused_text(resp), before)

    one()


def test_fuzz_me_forms(surface):
    @FUZZ
    @given(me_text, st.sampled_from(["U1", "U2"]))
    def one(words_typed: str, user: str) -> None:
        before = surface.begin()
        resp = surface.bot.slack.command(words_typed, user_id=user)
        surface.check(resp, refused_text(resp), before)

    one()


def test_fuzz_leaderboard_decisions_and_stop_text(surface):
    @FUZZ
    @given(issue14_text)
    def one(words_typed: str) -> None:
        before = surface.begin()
        resp = surface.bot.slack.command(words_typed)
        surface.check(resp, refused_text(resp), before)

    one()


def test_fuzz_decision_form(surface):
    review = int(re.search(r"review #(\d+)", surface.bot.reply('review "Fuzz" at 15:00 runs trainer:r1'))[1])
    with surface.bot.services.store.tx() as s:
        run_id = s.scalar(select(Run.id).where(Run.ref == "r1"))
    choice = st.sampled_from([*CHOICES, "SHIP", "", "x"]) | text
    option_value = st.sampled_from([str(run_id), "0", "-1", "x", str(2**70), ""]) | text
    # view.state.values is block -> action -> state; a state Slack never sends is json_values.
    state = st.fixed_dictionaries({}, optional={
        "choice": st.fixed_dictionaries({"value": st.fixed_dictionaries(
            {"type": st.just("static_select"), "selected_option": st.fixed_dictionaries({"value": choice})})
            | json_values}),
        "note": st.fixed_dictionaries({"value": st.fixed_dictionaries(
            {"type": st.just("plain_text_input"), "value": text | st.text(min_size=1990, max_size=2100)})
            | json_values}),
        "runs": st.fixed_dictionaries({"value": st.fixed_dictionaries(
            {"type": st.just("multi_static_select"),
             "selected_options": st.lists(st.fixed_dictionaries({"value": option_value}) | json_values,
                                          max_size=4)}) | json_values})})
    metadata = st.sampled_from([f"C1:{review}", f"C9:{review}", "C1:0", f"C1:{review + 1}", "C1:", ":", "",
                                f"C1:{2**70}", f"C1:{review}:{review}"]) | text

    @FUZZ
    @given(state, metadata)
    def one(values: dict, private_metadata: str) -> None:
        before = surface.begin()
        resp = surface.bot.slack.view_submission("decision_modal", values, private_metadata=private_metadata)
        surface.check(resp, "errors" in resp.text, before)

    one()


def test_fuzz_pushed_owners_reach_dispatch(surface):
    """A run pushed with a fuzzed owner is tracked, finishes, and its message is delivered: no
    traceback on the way, the message is posted, and the owner's text pings nobody."""
    bot, refs = surface.bot, iter(range(10**9))

    @FUZZ
    @given(owners)
    def one(owner: str) -> None:
        surface.begin(counts=False)
        ref = f"owned-{next(refs)}"
        pushed = push(bot, surface.token, {"state": "running", "step": 1, "owner": owner}, ref=ref)
        surface.check(pushed, False, {})
        tracked = bot.slack.command(f"track trainer:{ref}")
        surface.check(tracked, False, {})
        surface.check(push(bot, surface.token, {"state": "finished", "step": 2}, ref=ref), False, {})
        bot.deliver()
        surface.no_traceback()
        posted = [m for m in bot.fake.messages("C1") if ref in json.dumps(m, ensure_ascii=False)
                  and "finished" in (m.get("text") or "")]
        assert len(posted) == 1, (ref, owner, [m.get("text") for m in bot.fake.messages("C1")][-3:])
        shown = "".join(strings(posted[0]))
        assert not any(b in shown for b in BROADCASTS), shown
        assert not any(unicodedata.category(c) == "Cc" for c in shown.replace("\n", "")), ascii(shown)

    one()


def strings(node: object) -> list[str]:
    """Every string in a posted message, where a reader may see it."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict | list):
        return [t for v in (node.values() if isinstance(node, dict) else node) for t in strings(v)]
    return []


def test_fuzz_buttons_and_forms(surface):
    @FUZZ
    @given(st.sampled_from(ACTIONS), text | st.sampled_from(["1", "0", "-1", "{}", '{"channel": "C9"}', "1:1"]),
           st.sampled_from(CALLBACKS), st.dictionaries(text, st.dictionaries(text, json_values, max_size=2),
                                                       max_size=3), st.booleans())
    def one(action: str, value: str, callback: str, values: dict, form: bool) -> None:
        before = surface.begin()
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
        before = surface.begin()
        resp = surface.bot.slack.event(event)
        surface.check(resp, resp.status_code >= 400, before)

    one()


def test_fuzz_push_bodies_and_feeds(surface):
    base = surface.bot.server.url

    @FUZZ
    @given(push_bodies, st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=40),
           st.booleans(), text)
    def one(body, ref: str, good_token: bool, token: str) -> None:  # noqa: ANN001
        before = surface.begin()
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
