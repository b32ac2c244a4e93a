"""Log lines never carry a secret, even when a library logs request and response bodies at DEBUG."""

from __future__ import annotations

import io
import logging

from bot.redact import RedactingFilter


def test_tokens_and_configured_secrets_are_masked():
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(RedactingFilter(["my-signing-secret-123", None, "short"]))
    log = logging.getLogger("test.redact")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        log.debug('Responding with body: {"text": "token `%s`"}', "rbp_tlI3f7gTK9ujrbl4872VXqEioH8PQlWJ")
        log.info("Authorization: Bearer xoxb-1234-5678-abcdefABCDEF and xapp-1-A0-123-abcdef")
        try:
            raise ValueError("secret is my-signing-secret-123")
        except ValueError:
            log.exception("failed")
        log.info("a short word stays")
    finally:
        log.removeHandler(handler)
    text = out.getvalue()
    for secret in ("rbp_tlI3f7", "xoxb-1234", "xapp-1-A0", "my-signing-secret-123"):
        assert secret not in text
    assert text.count("[redacted]") == 5 and "a short word stays" in text
