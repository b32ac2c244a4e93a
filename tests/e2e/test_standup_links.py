"""Standups that point at the work: `/ready connect jira|github`, then the Jira keys and GitHub
references in an answer are shown with their titles and statuses, through signed requests, the
outbox and fake Slack, against local fakes of Jira Cloud and GitHub."""

from __future__ import annotations

import html
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.jobs.standups import standup_tick
from bot.notify import outbox
from bot.store.models import Connection, Outbox
from tests.fakes.github_server import GitHubServer
from tests.fakes.jira_server import JiraServer
from tests.slack_text import shown

CH = "C7"
MONDAY_0830_UTC = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)  # 09:30 in Berlin
JIRA_KEY = "alice@example.com:jira-token-0123456789"
GH_TOKEN = "ghp_test0123456789abcdefghij"


@pytest.fixture
def jira():
    with JiraServer() as server:
        server.add_issue("ML-12", "Data loader drops the last batch", "In Progress", "Alice Example")
        yield server


@pytest.fixture
def github():
    with GitHubServer(token=GH_TOKEN) as server:
        server.add_issue("acme/trainer", 7, "Mixed precision diverges", assignee="bob")
        yield server


@pytest.fixture
def team(bot):
    bot.fake.add_user("U2", "bob", tz="Europe/Berlin")
    bot.fake.add_channel(CH, "ml-team", ["U0BOT", "U2"])
    bot.clock.now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert "Standup" in html.unescape(bot.reply("standup at 09:30", user_id="U2", channel_id=CH))
    return bot


def say(bot, text: str) -> str:
    return html.unescape(bot.reply(text, user_id="U2", channel_id=CH))


def answer(bot, texts: list[str]) -> None:
    """Open the standup, answer it, and wait until the answer's issue lookups are done."""
    bot.clock.now = MONDAY_0830_UTC
    standup_tick(bot.services)
    bot.deliver()
    prompt = bot.fake.messages("U2")[0]
    value = next(e["value"] for b in prompt["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == "standup_answer")
    opened = len(bot.fake.modals())
    bot.slack.block_action("standup_answer", value, user_id="U2", channel_id="DU2", message_ts=prompt["ts"])
    bot.fake.wait_for(lambda: len(bot.fake.modals()) > opened)
    committed = threading.Event()
    bot.services.store.on_commit(outbox.TOPIC, committed.set)
    values = {f"q{i}": {"value": {"type": "plain_text_input", "value": t}} for i, t in enumerate(texts)}
    resp = bot.slack.view_submission("standup_answer_view", values, user_id="U2")
    assert resp.status_code == 200 and not resp.text.strip(), resp.text
    bot.deliver()
    return committed


def thread_answer(bot) -> str:
    messages = bot.fake.messages(CH)
    return shown([m for m in messages if "thread_ts" in m][0])


def wait_for_links(bot, committed: threading.Event) -> None:
    """The links edit is queued by the listener after its ack: wait for that commit, then send it."""
    def queued() -> int:
        with bot.services.store.tx() as s:
            return s.scalar(select(func.count()).select_from(Outbox).where(Outbox.dedupe_key.like("%:links%")))

    while not queued():
        assert committed.wait(10), "the answer's issue links were never queued"
        committed.clear()
    bot.deliver()


def test_connecting_jira_and_github_checks_the_credentials_and_keeps_them_secret(team, jira, github):
    refused = say(team, f"connect jira {jira.url} key=alice@example.com:not-the-token-123")
    assert "Nothing was saved" in refused and "not-the-token" not in refused
    assert "needs an API key" in say(team, f"connect jira {jira.url}")
    ok = say(team, f"connect jira {jira.url} key={JIRA_KEY}")
    assert "Connected *jira*" in ok and "PROJ-123" in ok and "jira-token" not in ok
    assert "Connected *github*" in say(team, f"connect github {github.url} key={GH_TOKEN}")
    with team.services.store.tx() as s:
        stored = {c.kind: c for c in s.scalars(select(Connection))}
    assert set(stored) == {"jira", "github"} and GH_TOKEN not in (stored["github"].secret_sealed or "")


def test_an_answer_shows_the_title_and_status_of_each_issue_it_mentions(team, jira, github):
    say(team, f"connect jira {jira.url} key={JIRA_KEY}")
    say(team, f"connect github {github.url} key={GH_TOKEN}")
    committed = answer(team, ["Fixed ML-12, reviewed acme/trainer#7", "ML-404 next", ""])
    wait_for_links(team, committed)
    text = thread_answer(team)
    assert "Fixed ML-12, reviewed acme/trainer#7" in text  # the answer as written
    site = jira.url.rstrip("/")
    assert f":link: <{site}/browse/ML-12|ML-12> Data loader drops the last batch (In Progress · Alice Example)" in text
    assert ":link: <https://github.com/acme/trainer/issues/7|acme/trainer#7> Mixed precision diverges (open · bob)" in text
    assert "ML-404" not in text.split("ML-404 next")[1]  # an unknown key is left as typed, nothing added


def test_a_rate_limited_github_leaves_references_as_typed_and_is_left_alone(team, github):
    say(team, f"connect github {github.url} key={GH_TOKEN}")
    github.remaining = 0  # the token's hourly quota is spent
    asked = github.count()
    answer(team, ["acme/trainer#7", "", ""])
    team.fake.wait_for(lambda: github.count() > asked)
    assert "acme/trainer#7" in thread_answer(team) and "Mixed precision" not in thread_answer(team)
    github.remaining = 10
    answer(team, ["acme/trainer#7 edited", "", ""])  # an edit while the reset time has not come
    team.deliver()
    assert github.count() == asked + 1  # the quota's reset time was respected: no second request


def test_issue_connections_hold_no_runs(team, jira):
    say(team, f"connect jira {jira.url} key={JIRA_KEY}")
    refused = say(team, "track jira:ML-12")
    assert "is a jira connection" in refused
    say(team, "connect push as training")
    # The one run tracker is still the default although two connections exist.
    assert "Now tracking run *my-run* on *training*" in say(team, "track my-run")
