"""Templates -> Block Kit: layout markup, mrkdwn escaping, line ends, splitting."""

from __future__ import annotations

import jinja2
import pytest

from bot.notify.fit import fit_message
from bot.notify.render import KeepLineEnds, Message, escape, link, to_blocks


def render_source(source: str, **context) -> str:
    env = jinja2.Environment(extensions=[KeepLineEnds], trim_blocks=True, lstrip_blocks=True)
    return env.from_string(source).render(**context)


def test_a_line_ending_in_a_tag_keeps_its_line_end():
    source = "{% for x in xs %}\n• {{ x }}{% if x == 2 %} (two){% endif %}\n{% endfor %}done\n"
    assert render_source(source, xs=[1, 2, 3]) == "• 1\n• 2 (two)\n• 3\ndone"


def test_a_tag_alone_on_its_line_leaves_no_blank_line():
    assert render_source("a\n{% if true %}\nb\n{% endif %}\nc\n") == "a\nb\nc"


def test_layout_markup_becomes_blocks():
    blocks = to_blocks("# Title\n\nbody *bold*\n\n---\n\n> small print")
    assert [b["type"] for b in blocks] == ["header", "section", "divider", "context"]


def test_mrkdwn_escaping_and_links():
    assert escape("a < b & c > d") == "a &lt; b &amp; c &gt; d"
    assert link("https://x/?a=1&b=2", "run <1>|x") == "<https://x/?a=1&amp;b=2|run &lt;1&gt;¦x>"
    assert link(None, "plain") == "plain"


def test_long_sections_are_split_at_line_ends():
    body = "\n".join(f"line {i:04d} " + "x" * 90 for i in range(100))
    blocks = to_blocks(body)
    assert len(blocks) > 1
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks)
    assert all(b["text"]["text"].startswith("line ") for b in blocks)


def test_over_50_blocks_become_thread_parts():
    message = Message(text="t", blocks=[{"type": "divider"}] * 120)
    parts = fit_message(message)  # what the dispatcher sends
    assert [len(p.blocks) for p in parts] == [50, 50, 20]
    assert "part 3 of 3" in parts[2].text


def test_fallback_text_keeps_mrkdwn_escaping():
    # The top-level `text` is mrkdwn as well: a tracker-supplied run name must not turn into a
    # mention (<!channel>) or end the run link early there.
    from bot.notify.render import render

    run = {"url": "https://mlflow.example/#/runs/1", "name": "<!channel> a>b & c", "experiment": "x<y",
           "metrics": {}, "step": None, "total_steps": None, "duration_s": None, "owner": None,
           "heartbeat_at": None}
    message = render("run_event", run=run, event="finished", connection="mlflow")
    assert "<!channel>" not in message.text and "x<y" not in message.text
    assert message.text.startswith(
        ":white_check_mark: Run *<https://mlflow.example/#/runs/1|&lt;!channel&gt; a&gt;b &amp; c>* finished"
    )
    assert "(x&lt;y)" in message.text


def test_numbers_read_as_numbers():
    from bot.notify.render import format_number

    assert [format_number(v) for v in (0.9300000001, 12345.6789, 123.456, 2.5e7, None)] == [
        "0.93", "12346", "123.5", "2.500e+07", "–"]


def test_a_refused_command_shows_what_was_typed_and_the_usage_as_written():
    from bot.commands import parse
    from bot.listeners.commands import parse_error_reply

    text = parse_error_reply(parse("<!channel>")).text
    assert "`&lt;!channel&gt;` is not a /ready command" in text and "<!channel>" not in text
    text = parse_error_reply(parse("connect mlflow")).text
    # Every form of connect, as help writes them, escaped so Slack shows the <placeholders>.
    assert "Usage:\n```/ready connect &lt;kind&gt; &lt;url&gt; [as &lt;name&gt;] [key=&lt;secret&gt;]" in text
    assert "/ready connect push [as &lt;name&gt;]\n" in text
    assert "/ready connect github [&lt;api-url&gt;] key=&lt;token&gt;   (issue links in standups)\n" in text
    assert text.endswith("/ready connect   (opens a form, so the key stays out of the channel)```")


@pytest.mark.parametrize(("value", "shown"), [(0.0001, "1.000e-04"), (-3e-5, "-3.000e-05"), (5e-7, "5.000e-07")])
def test_a_small_learning_rate_is_not_shown_as_zero(value, shown):
    """lr=0.0001 was listed as lr=0: values under 1e-3 fell into the 'no decimals' branch."""
    from bot.notify.render import format_number

    assert format_number(value) == shown
