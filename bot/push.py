"""POST /api/v1/runs/<ref>: a training script reports its run; same pipeline as polling."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.httpio import MAX_PUSH_BODY, Response, json_response, read_body
from bot.jobs.record import record_pushed
from bot.services import Services
from bot.store.models import Connection, Run, StopRequest
from integrations.push import PushError, parse_body, snapshot_from_push


def handle_push(services: Services, environ: dict[str, Any], raw_ref: str) -> Response:
    conn = _authenticate(services, environ.get("HTTP_AUTHORIZATION", ""))
    if conn is None:
        return json_response(401, {"ok": False, "error": "missing or unknown push token"})
    body = read_body(environ, MAX_PUSH_BODY)
    if body is None:
        return json_response(413, {"ok": False, "error": f"body over {MAX_PUSH_BODY} bytes"})
    try:
        snap = snapshot_from_push(_ref_text(raw_ref), parse_body(body), services.clock())
    except PushError as exc:
        return json_response(400, {"ok": False, "error": str(exc)})
    state = record_pushed(services, conn.id, snap)
    return json_response(200, {"ok": True, "run": snap.ref, "state": state, **_stop_flag(services, conn.id, snap.ref)})


def _stop_flag(services: Services, connection_id: int, ref: str) -> dict[str, Any]:
    """Once someone asked from Slack that the run stop, every answer says so: the training loop
    stops when it reads `"stop": true` (README, "Stopping a run from Slack")."""
    with services.store.tx() as s:
        row = s.execute(
            select(StopRequest.requested_by_name, StopRequest.requested_by, StopRequest.reason, StopRequest.requested_at)
            .join(Run, Run.id == StopRequest.run_id)
            .where(Run.connection_id == connection_id, Run.ref == ref)
        ).first()
    if row is None:
        return {}
    return {"stop": True, "stop_requested_by": row.requested_by_name or row.requested_by,
            "stop_reason": row.reason, "stop_requested_at": row.requested_at.isoformat()}


def _ref_text(path_info: str) -> str:
    """The run ref as the client wrote it. The WSGI server has already percent-decoded the path
    (decoding again would turn a literal "%41" into "A") and handed its UTF-8 bytes over as
    latin-1 characters (PEP 3333), so "résnet" arrives as "rÃ©snet" until re-decoded."""
    try:
        return path_info.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise PushError("run ref must be UTF-8 text") from None


def _authenticate(services: Services, header: str) -> Connection | None:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    digest = services.box.token_hash(token.strip())
    with services.store.tx() as s:
        return s.scalar(select(Connection).where(Connection.push_token_hash == digest, Connection.kind == "push"))
