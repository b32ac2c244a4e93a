"""Jinja2 templates -> Block Kit messages.

Templates under bot/templates/ write plain mrkdwn with a tiny layout markup, one
block per paragraph, so message wording stays readable and out of Python:

    # Header text              -> header block (plain text, cut to 150 chars)
    ---                        -> divider
    > small print              -> context block
    any other paragraph        -> section block (split at 3000 chars)

Every expression is escaped for mrkdwn (& < >) unless it is marked `|safe`;
HTML autoescaping would be the wrong escaping for Slack. Buttons are added by the
caller, since they carry ids the template should not invent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import jinja2.ext
from markupsafe import Markup

from bot.core.words import plural
from bot.notify import blockkit

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# Slack's limits, from the one table the pre-send check also uses.
MAX_BLOCKS = blockkit.MAX_BLOCKS["message"]
SECTION_LIMIT = blockkit.char_limit("section", "text.text")
HEADER_LIMIT = blockkit.char_limit("header", "text.text")
FALLBACK_LIMIT = 3000


@dataclass
class Message:
    text: str  # top-level fallback for notifications and screen readers
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def escape(value: Any) -> str:
    """Slack mrkdwn escaping: only &, < and > are special."""
    if isinstance(value, Markup):
        return str(value)
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    return Markup(escape(value))


def link(url: str | None, label: Any) -> Markup:
    """A mrkdwn link; the label's | and > would end the link early, so they are replaced."""
    text = escape(label).replace("|", "¦")
    if not url:
        return Markup(text)
    return Markup(f"<{escape(url)}|{text}>")


_USER_ID = re.compile(r"[UW][A-Z0-9]{1,30}")


def mention(user: Any) -> Markup:
    """A Slack user id as a mention; anything else (a name, "readybot") as escaped text."""
    text = str(user or "")
    return Markup(f"<@{text}>") if _USER_ID.fullmatch(text) else Markup(escape(text or "someone"))


class KeepLineEnds(jinja2.ext.Extension):
    """trim_blocks drops the newline after *every* block tag, which is right for a tag alone
    on its line but glues a line that merely ends in `{% endif %}` to the next one. Doubling
    the newline after such lines keeps exactly one."""

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        return "".join(_keep_line_end(line) for line in source.splitlines(keepends=True))


def _keep_line_end(line: str) -> str:
    body = line.rstrip("\n")
    if body.endswith("%}") and line.endswith("\n") and _TAGS.sub("", body).strip():
        return line + "\n"
    return line


_TAGS = re.compile(r"\{%.*?%\}")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        extensions=[KeepLineEnds],
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=False,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,  # a typo in a template fails the test, not silently
    )
    env.filters["link"] = link  # {{ run.url|link(run.name) }}
    env.filters["num"] = format_number
    env.filters["mention"] = mention  # {{ user|mention }}: <@U123>, or the text escaped
    env.filters["pct"] = lambda x: "" if x is None else f"{100 * x:.0f}%"
    env.filters["hhmm"] = lambda d: d.strftime("%H:%M") if isinstance(d, datetime) else ""
    env.filters["duration"] = _duration
    env.filters["ago"] = _ago
    env.filters["when"] = date_token
    env.filters["plural"] = plural  # {{ n|plural("run") }}: "1 run", "2 runs"
    env.filters["review_state"] = lambda state: REVIEW_STATES.get(state, state)
    return env


# A review's state as people say it: "held" would read as "put on hold", the opposite of meaning.
REVIEW_STATES = {"waiting": "waiting on runs", "ready": "results ready", "held": "meeting as planned"}


def _duration(seconds: float | None) -> str:
    from bot.core.eta import format_duration

    return "" if seconds is None else format_duration(timedelta(seconds=seconds))


def _ago(iso: str | None) -> str:
    """An ISO timestamp as a Slack date token: each reader sees it in their own zone."""
    if not iso:
        return "a while"
    return date_token(datetime.fromisoformat(iso))


def date_token(at: datetime | None) -> str:
    """A datetime as a Slack date token, shown in each reader's own time zone."""
    if at is None:
        return ""
    fallback = at.strftime("%Y-%m-%d %H:%M UTC")
    return Markup(f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>")


def format_number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        if value == 0 or 1e-3 <= abs(value) < 1e4:
            return f"{value:.4g}"
        if 1e4 <= abs(value) < 1e6:  # .4g would write 12345.7 as 1.235e+04
            return f"{value:.0f}"
        return f"{value:.3e}"
    return str(value)


def render_text(template: str, **context: Any) -> str:
    return environment().get_template(f"{template}.j2").render(**context).strip()


def render(template: str, **context: Any) -> Message:
    body = render_text(template, **context)
    blocks = to_blocks(body)
    return Message(text=fallback_text(body), blocks=blocks)


def to_blocks(body: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for para in _paragraphs(body):
        if para == "---":
            blocks.append({"type": "divider"})
        elif para.startswith("# "):
            blocks.append({"type": "header", "text": {"type": "plain_text", "text": _unescape(para[2:])[:HEADER_LIMIT]}})
        elif para.startswith("> "):
            text = "\n".join(line.removeprefix("> ") for line in para.splitlines())
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text[:SECTION_LIMIT]}]})
        else:
            blocks.extend(_section(chunk) for chunk in split_text(para, SECTION_LIMIT))
    return blocks


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _paragraphs(body: str) -> list[str]:
    return [p.strip("\n") for p in body.split("\n\n") if p.strip()]


def _unescape(text: str) -> str:
    # Header blocks are plain_text: show the characters, not their mrkdwn escapes.
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def split_text(text: str, limit: int) -> list[str]:
    """Split at line ends where possible so a table row is never cut in half."""
    chunks: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            chunks.append(current)
            current = ""
        current += line
    if current.strip():
        chunks.append(current)
    return [c.rstrip("\n") for c in chunks]


def fallback_text(body: str) -> str:
    # The top-level text is mrkdwn too (Slack shows it in notifications and parses <...> there),
    # so it keeps the template's escaping: a run named `<!channel>` must not become a mention.
    first = next((p for p in _paragraphs(body) if p != "---"), "")
    text = first.removeprefix("# ").removeprefix("> ")
    return text[:FALLBACK_LIMIT]
