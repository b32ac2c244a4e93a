# A fake Google Calendar API v3 with Google's OAuth 2.0 token endpoint, following:
# - service accounts over HTTP/REST: POST <token_uri>, form-encoded, grant_type=
#   urn:ietf:params:oauth:grant-type:jwt-bearer and assertion=<JWT signed RS256> whose claims
#   carry iss (the account's email), scope, aud (the token URI), iat and exp at most 3600 s
#   later; answers {"access_token", "expires_in", "token_type": "Bearer"}, or HTTP 400
#   {"error": "invalid_grant", "error_description": ...}.
#   https://developers.google.com/identity/protocols/oauth2/service-account#httprest
# - events.get / events.patch: GET|PATCH /calendar/v3/calendars/{calendarId}/events/{eventId};
#   patch replaces the fields sent and keeps the others; optional query sendUpdates.
#   https://developers.google.com/calendar/api/v3/reference/events/get
#   https://developers.google.com/calendar/api/v3/reference/events/patch
# - error bodies {"error": {"errors": [{"domain", "reason", "message"}], "code", "message"}},
#   401 authError "Invalid Credentials", 404 notFound.
#   https://developers.google.com/calendar/api/guides/errors
# Unverified, chosen here: nested objects in a patch body merge key by key and null deletes a
# key (Google's general patch semantics); expired tokens are not modelled (`revoke_tokens`
# stands in for expiry).
"""Fake Google Calendar + OAuth token server for integration tests."""

from __future__ import annotations

import base64
import json
import re
from itertools import count
from typing import Any
from urllib.parse import unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes import FakeServer, Recorded, Reply

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CALENDAR_SCOPES = {"https://www.googleapis.com/auth/calendar", "https://www.googleapis.com/auth/calendar.events"}
_EVENT_PATH = re.compile(r"/calendar/v3/calendars/([^/]+)/events/([^/]+)")


def google_error(code: int, reason: str, message: str, domain: str = "global") -> dict[str, Any]:
    return {"error": {"errors": [{"domain": domain, "reason": reason, "message": message}],
                      "code": code, "message": message}}


class FakeGoogleCalendar(FakeServer):
    def __init__(self, public_key: rsa.RSAPublicKey, client_email: str, calendar_id: str) -> None:
        super().__init__()
        self.public_key = public_key
        self.client_email = client_email
        self.calendar_id = calendar_id
        self.events: dict[str, dict[str, Any]] = {}
        self.tokens: set[str] = set()
        self._ids = count(1)

    @property
    def token_uri(self) -> str:
        return self.url + "token"

    @property
    def api_url(self) -> str:
        return self.url + "calendar/v3/"

    def add_event(self, event_id: str, start: dict[str, Any], end: dict[str, Any], summary: str = "Review") -> None:
        self.events[event_id] = {"kind": "calendar#event", "id": event_id, "status": "confirmed",
                                 "summary": summary, "start": start, "end": end, "sequence": 0}

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def handle(self, request: Recorded) -> Reply:
        if request.path == "/token" and request.method == "POST":
            return self._token(request.body or {})
        match = _EVENT_PATH.fullmatch(request.path)
        if match is None:
            return Reply(404, google_error(404, "notFound", "Not Found"))
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
            return Reply(401, google_error(401, "authError", "Invalid Credentials"))
        calendar_id, event_id = unquote(match[1]), unquote(match[2])  # path segments arrive encoded
        event = self.events.get(event_id) if calendar_id == self.calendar_id else None
        if event is None:
            return Reply(404, google_error(404, "notFound", "Not Found"))
        if request.method == "PATCH":
            _merge(event, request.body or {})
            event["updated"] = f"patch-{next(self._ids)}"
        return Reply(200, event)

    def _token(self, form: dict[str, str]) -> Reply:
        if form.get("grant_type") != GRANT_TYPE:
            return Reply(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
        problem = self._check_assertion(form.get("assertion", ""))
        if problem:
            return Reply(400, {"error": "invalid_grant", "error_description": problem})
        token = f"ya29.fake-{next(self._ids)}"
        self.tokens.add(token)
        return Reply(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _check_assertion(self, jwt: str) -> str | None:
        try:
            head, claims, signature = jwt.split(".")
            header, body = json.loads(_unb64(head)), json.loads(_unb64(claims))
            self.public_key.verify(_unb64(signature), f"{head}.{claims}".encode(), padding.PKCS1v15(),
                                   hashes.SHA256())
        except (ValueError, InvalidSignature):
            return "Invalid JWT Signature."
        if header.get("alg") != "RS256":
            return "Invalid JWT: alg must be RS256"
        if body.get("iss") != self.client_email or body.get("aud") != self.token_uri:
            return "Invalid JWT: iss or aud"
        if not CALENDAR_SCOPES & set(str(body.get("scope", "")).split()):
            return "Invalid JWT: scope"
        if not 0 < int(body.get("exp", 0)) - int(body.get("iat", 0)) <= 3600:
            return "Invalid JWT: Token must be a short-lived token (60 minutes)"
        return None


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
