"""The App Home view: a person's channels, each with its runs, targets and upcoming reviews, and
buttons that go through the same handlers as the commands (bot/listeners/home.py).

Slack takes at most 100 blocks in a Home view (https://api.slack.com/reference/surfaces/views),
so each channel shows a few rows of each kind and says how to see the rest, and channels past
the budget are named in one line. Button values are JSON naming the channel and the row: a
Home click carries no channel of its own.
"""

from __future__ import annotations

import json
from typing import Any

from bot.core.words import plural
from bot.notify.blocks import actions, button
from bot.notify.render import REVIEW_STATES, date_token, escape, format_number, link, render
from bot.store.home import ChannelHome, HomeReview, HomeRun, HomeTarget

MAX_HOME_BLOCKS = 100
PER_KIND = 3  # rows of each kind per channel
# header, counts, runs, the review button, targets, reviews, the "more" line and a divider
CHANNEL_BLOCKS = 1 + PER_KIND + 1 + PER_KIND + PER_KIND + 1 + 1
TOP_BLOCKS = 3  # title, a note from the last click, the Connect button
MAX_CHANNELS = (MAX_HOME_BLOCKS - TOP_BLOCKS - 1) // CHANNEL_BLOCKS

UNTRACK = "home_untrack"
REVIEW = "home_review"
POSTPONE = "home_postpone"
REMOVE_TARGET = "home_target_remove"
CONNECT = "home_connect"
BUTTONS = (UNTRACK, REVIEW, POSTPONE, REMOVE_TARGET, CONNECT)
TERMINAL = {"finished", "failed", "killed"}


def home_view(homes: list[ChannelHome], more_channels: list[str], notice: str | None = None) -> dict[str, Any]:
    if not homes:
        blocks = render("home").blocks
        if notice:
            blocks.insert(1, _section(notice))
        return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS]}
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": "readybot"}}]
    if notice:
        blocks.append(_section(notice))
    blocks.append(actions(button("Connect a tracker", CONNECT, "connect")))
    for home in homes:
        blocks.extend(channel_blocks(home))
    if more_channels:
        shown = ", ".join(f"<#{c}>" for c in more_channels[:20])
        rest = f" and {len(more_channels) - 20} more" if len(more_channels) > 20 else ""
        blocks.append(_context(f"Also in {plural(len(more_channels), 'channel')}: {shown}{rest}; "
                               "`/ready runs` there lists them."))
    blocks.append(_context("`/ready help` lists every command."))
    return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS]}


def value(channel_id: str, **fields: Any) -> str:
    return json.dumps({"channel": channel_id, **fields}, separators=(",", ":"))


def channel_blocks(home: ChannelHome) -> list[dict[str, Any]]:
    c, counts = home.channel_id, home.counts
    said = [plural(counts["runs"], "run"), plural(counts["targets"], "target"),
            plural(counts["reviews"], "upcoming review")]
    blocks = [_section(f"*<#{c}>* · " + " · ".join(said))]
    blocks += [_with_button(_run_line(r), "Untrack", UNTRACK,
                            value(c, conn=r.conn, ref=r.watch_ref, experiment=r.watch_is_experiment))
               for r in home.runs]
    if home.runs:
        active = [f"{r.conn}:{r.watch_ref}" for r in home.runs if r.state not in TERMINAL and not r.watch_is_experiment]
        blocks.append(actions(button("Schedule a results review", REVIEW, value(c, runs=active))))
    blocks += [_with_button(_target_line(t), "Remove", REMOVE_TARGET, value(c, id=t.id)) for t in home.targets]
    blocks += [_with_button(_review_line(r), "Postpone to ETA", POSTPONE, value(c, id=r.id)) for r in home.reviews]
    more = _more(home)
    if more:
        blocks.append(_context(more))
    blocks.append({"type": "divider"})
    return blocks


def _more(home: ChannelHome) -> str:
    """`and 4 more runs — /ready runs in #chan`, for each kind cut short."""
    commands = {"runs": ("run", "/ready runs", home.runs), "targets": ("target", "/ready targets", home.targets),
                "reviews": ("review", "/ready reviews", home.reviews)}
    parts = [f"and {plural(home.counts[kind] - len(shown), 'more ' + word)} — `{command}` in <#{home.channel_id}>"
             for kind, (word, command, shown) in commands.items() if home.counts[kind] > len(shown)]
    return "; ".join(parts)


def _run_line(run: HomeRun) -> str:
    line = f"{link(run.url, run.name)} `{escape(run.conn)}` {escape(run.state)}"
    if run.step is not None:
        line += f" · step {run.step}" + (f"/{run.total_steps}" if run.total_steps else "")
    if run.watch_is_experiment:
        line += f" · via experiment `{escape(run.watch_ref)}`"
    return line


def _target_line(target: HomeTarget) -> str:
    rule = f"{target.metric} {target.op} {format_number(target.threshold)}"
    if target.patience > 1:
        rule += f" for {target.patience} evals"
    return f"Target *#{target.id}* `{escape(rule)}`" + (" (muted)" if target.muted else "")


def _review_line(review: HomeReview) -> str:
    state = REVIEW_STATES.get(review.state, review.state)
    return f"Review *#{review.id}* *{escape(review.title)}* {date_token(review.at)} · {state}"


def _with_button(text: str, label: str, action_id: str, val: str) -> dict[str, Any]:
    return {**_section(text), "accessory": button(label, action_id, val)}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}
