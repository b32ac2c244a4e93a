"""`/ready help` states the forms the parser accepts, no more and no fewer (issue: push takes no
URL, bare `connect`/`review` open forms, reviews accept experiments)."""

from __future__ import annotations

import html

import pytest

from bot.commands import (
    USAGE,
    Connect,
    ConnectModal,
    ParseError,
    ReviewAdd,
    ReviewModal,
    RunRef,
    help_text,
    parse,
)


def shown(text: str) -> str:
    return html.unescape(text)  # Slack shows mrkdwn escapes as the characters


def test_help_shows_push_without_a_url():
    text = shown(help_text(None))
    assert "/ready connect push [as <name>]" in text
    assert isinstance(parse("connect push as ci"), Connect)
    assert "/ready connect push [as <name>]" in shown(help_text("connect"))


@pytest.mark.parametrize("text", ["connect push https://ci.example.com", "connect push https://x as ci"])
def test_push_with_a_url_is_refused_with_its_form(text):
    result = parse(text)
    assert isinstance(result, ParseError)
    assert "push takes no URL" in result.message
    assert "/ready connect push [as <name>]" in result.usage


def test_help_shows_the_forms_the_bare_commands_open():
    text = shown(help_text(None))
    assert "/ready connect   (opens a form" in text
    assert "/ready review [runs <ref>,...]   (opens a form" in text
    assert parse("connect") == ConnectModal() and parse("review") == ReviewModal()
    assert parse("review runs a:1,b:2") == ReviewModal((RunRef("a", "1"), RunRef("b", "2")))


def test_help_says_a_review_takes_an_experiment():
    review = shown(help_text("review"))
    assert "<conn>:experiment/<name>" in review
    assert "active when you schedule" in review
    cmd = parse('review "Sweep" at fri 14:00 runs prod:experiment/sweep')
    assert isinstance(cmd, ReviewAdd) and cmd.runs == (RunRef("prod", "sweep", True),)


def test_every_usage_line_parses_as_shown():
    """Each usage line, with its placeholders filled in, is accepted by the parser (or opens a form)."""
    filled = {
        "connect": ["connect mlflow https://m.example.com as prod key=k", "connect push as ci",
                    "connect jira https://acme.atlassian.net key=a@b.c:t", "connect github key=t", "connect"],
        "review": ['review "T" at fri 14:00 runs prod:1,prod:experiment/sweep lead 2h', "review runs prod:1",
                   "review cancel 3"],
        "me": ["me prod:alice", "me remove prod:alice", "me mentions off", "me"],
        "decisions": ["decisions last 10", "decisions edit 3", "decisions remove 3"],
    }
    for name, examples in filled.items():
        assert len(examples) == len(USAGE[name].splitlines())
        for example in examples:
            assert not isinstance(parse(example), ParseError), example
