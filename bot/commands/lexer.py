"""Turning raw slash-command text into tokens, plus the small helpers every subcommand shares."""

import unicodedata
from dataclasses import dataclass

# Slack escapes exactly these three in command text; `&amp;` goes last so that a literal
# `&lt;` typed by the user (sent as `&amp;lt;`) stays `&lt;`.
# https://api.slack.com/reference/surfaces/formatting#escaping
_SLACK_ESCAPES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))
# Slack clients (and macOS) turn "..." into typographic quotes as people type.
_SMART_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"'})


class Fail(Exception):
    """Raised inside the parser; `parse` turns it into a ParseError with the right usage."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Token:
    text: str  # with the grouping quotes removed
    raw: str  # exactly as typed (after unescaping), quotes included

    @property
    def keyword(self) -> str:
        # A quoted token keeps its quotes in `raw`, so it never matches a keyword.
        return self.raw.lower()


def normalize(text: str) -> str:
    for escaped, plain in _SLACK_ESCAPES:
        text = text.replace(escaped, plain)
    return text.translate(_SMART_QUOTES)


def tokenize(text: str) -> list[Token]:
    """Split on whitespace; double quotes group, also in the middle of a token (`experiment/"a b"`)."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start, in_quote, chars = i, False, []
        while i < n and (in_quote or not text[i].isspace()):
            if text[i] == '"':
                in_quote = not in_quote
            else:
                chars.append(text[i])
            i += 1
        if in_quote:
            raise Fail('a double quote is not closed; add the closing `"`')
        tokens.append(Token("".join(chars), text[start:i]))
    return tokens


def show(text: str, limit: int = 40) -> str:
    """Echo user input inside backticks, short, and never a secret."""
    if text.lower().startswith("key="):
        text = "key=…"
    text = text.replace("`", "'")
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"`{text}`"


def has_control_chars(text: str) -> bool:
    return any(unicodedata.category(c) == "Cc" for c in text)


def no_more(tokens: list[Token]) -> None:
    """Trailing junk is an error: silently ignoring it hides typos like a missing `on`."""
    if tokens:
        raise Fail(f"unexpected {show(tokens[0].raw)} at the end")


def single(tokens: list[Token], what: str, after: str) -> Token:
    if not tokens:
        raise Fail(f"missing {what} after `{after}`")
    no_more(tokens[1:])
    return tokens[0]


def split_sections(tokens: list[Token], keywords: set[str]) -> tuple[list[Token], dict[str, list[Token]]]:
    """Group `head... kw1 args... kw2 args...`; keywords may come in any order, each once."""
    head: list[Token] = []
    sections: dict[str, list[Token]] = {}
    current = head
    for token in tokens:
        word = token.keyword
        if word in keywords:
            if word in sections:
                raise Fail(f"`{word}` is given twice")
            current = sections[word] = []
        else:
            current.append(token)
    return head, sections
