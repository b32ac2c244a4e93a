"""Keeps secrets out of log lines, whatever logged them.

Our own code never logs a secret, but libraries at DEBUG do: slack_bolt logs each response body
(a push token is shown to its creator once, in an ephemeral reply) and slack_sdk logs request
bodies. A filter on the process's log handlers masks Slack tokens, push tokens and every
configured secret before a line is written.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

TOKENS = re.compile(r"\b(?:xox[abposre]|xapp|xoxe(?:\.xox[bp])?)-[A-Za-z0-9-]{6,}|\brbp_[A-Za-z0-9_-]{8,}")
MASK = "[redacted]"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return TOKENS.sub(MASK, text)


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str | None] = ()):
        super().__init__()
        # Very short values would mask ordinary words; real secrets are long.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        return True


def install(secrets: Iterable[str | None]) -> None:
    """Add the filter to every handler of the root logger (call after logging is configured)."""
    secrets = list(secrets)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter(secrets))
