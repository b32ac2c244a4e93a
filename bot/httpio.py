"""The small HTTP vocabulary of the bot's own routes (not Slack's): a WSGI response as a tuple,
JSON answers and a size-limited body read. web.py routes to the handlers that use it (push,
calendar feed), so they share it from here instead of importing the router."""

from __future__ import annotations

import json
from typing import Any

MAX_PUSH_BODY = 256 * 1024

Response = tuple[str, list[tuple[str, str]], bytes]


def json_response(status: int, body: Any) -> Response:
    reason = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
              405: "Method Not Allowed", 413: "Payload Too Large", 415: "Unsupported Media Type",
              500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "")
    return f"{status} {reason}", [("Content-Type", "application/json")], json.dumps(body).encode()


def read_body(environ: dict[str, Any], limit: int) -> bytes | None:
    """The request body, or None when it is larger than `limit`."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        return None
    return environ["wsgi.input"].read(length) if length else b""
