"""GET /decisions/<token>.md and .csv: a channel's decision records, for the team's notes.

The token is the channel's calendar feed token (one per team and channel, long and random): the
same link-as-credential a calendar app uses. An unknown or malformed token gets a 404, like a
missing page, so a guess learns nothing.
"""

from __future__ import annotations

from bot.core.decisions import csv_text, markdown
from bot.handlers.calendar_feed import TOKEN
from bot.handlers.decisions import ensure_permalinks
from bot.httpio import Response, json_response
from bot.services import Services
from bot.store import decisions as dq
from bot.store import reviews as rq

FORMATS = {".md": "text/markdown; charset=utf-8", ".csv": "text/csv; charset=utf-8"}


def serve_export(services: Services, rest: str) -> Response:
    """`rest` is the path after /decisions/: <token>.md or <token>.csv."""
    suffix = next((s for s in FORMATS if rest.endswith(s)), None)
    token = rest.removesuffix(suffix) if suffix else ""
    if suffix is None or not TOKEN.fullmatch(token):
        return json_response(404, {"ok": False, "error": "not found"})
    with services.store.tx() as s:
        channel = rq.channel_of_token(s, token)
        if channel is None:
            return json_response(404, {"ok": False, "error": "not found"})
        team_id, channel_id = channel.team_id, channel.channel_id
        rows = dq.channel_decisions(s, team_id, channel_id, dq.MAX_EXPORT)
    links = ensure_permalinks(services, team_id, [d for d, _ in rows])
    records = [dq.export_row(d, title, links.get(d.id)) for d, title in rows]
    body = markdown(f"channel {channel_id}", records) if suffix == ".md" else csv_text(records)
    disposition = f'attachment; filename="decisions-{channel_id}{suffix}"' if suffix == ".csv" else "inline"
    return "200 OK", [("Content-Type", FORMATS[suffix]), ("Cache-Control", "no-cache"),
                      ("Content-Disposition", disposition)], body.encode()
