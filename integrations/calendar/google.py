"""Google Calendar: move (or cancel) the event linked to a review, as a service account.

Documented behaviour this follows:
- OAuth 2.0 for service accounts over plain HTTP: a JWT {iss, scope, aud=token_uri, iat, exp
  at most one hour later} signed RS256 with the account's key is POSTed form-encoded to the
  token URI with grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer; the answer carries
  access_token and expires_in. There is no refresh token: a new JWT buys a new token.
  https://developers.google.com/identity/protocols/oauth2/service-account#httprest
- events.get / events.patch (PATCH .../calendars/{calendarId}/events/{eventId}): fields sent
  replace those stored, others are kept; a patch costs three quota units, so an event already
  where it should be is left alone.
  https://developers.google.com/calendar/api/v3/reference/events/patch
- Errors: 401 means the token expired or is invalid (get a new one); 403 is also used for rate
  limits; 404 and 410 mean the event is gone.
  https://developers.google.com/calendar/api/guides/errors
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from integrations.base import TrackerError
from integrations.http import TrackerHttp

API_URL = "https://www.googleapis.com/calendar/v3/"
SCOPE = "https://www.googleapis.com/auth/calendar.events"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME = 3600  # the documented maximum
EARLY_REFRESH = timedelta(minutes=5)  # renew before expiry, not on the first 401
DEFAULT_LENGTH = timedelta(hours=1)  # for an all-day event moved to a time of day
GONE = {400, 404, 410}  # retrying cannot help


class CalendarError(Exception):
    def __init__(self, message: str, permanent: bool = False, status: int | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.status = status


@dataclass(frozen=True)
class ServiceAccount:
    client_email: str
    private_key: str = field(repr=False)
    token_uri: str = "https://oauth2.googleapis.com/token"

    @classmethod
    def from_file(cls, path: str | Path) -> ServiceAccount:
        try:
            info = json.loads(Path(path).read_text())
            return cls(info["client_email"], info["private_key"], info.get("token_uri") or cls.token_uri)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # Never the file's content: it holds the private key.
            raise CalendarError(f"service-account file unusable ({type(exc).__name__})", permanent=True) from None


def signed_assertion(account: ServiceAccount, now: datetime) -> str:
    header = {"alg": "RS256", "typ": "JWT"}
    iat = int(now.timestamp())
    claims = {"iss": account.client_email, "scope": SCOPE, "aud": account.token_uri,
              "iat": iat, "exp": iat + ASSERTION_LIFETIME}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    key = serialization.load_pem_private_key(account.private_key.encode(), password=None)
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr, call-arg]
    return f"{signing_input}.{_b64(signature)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class GoogleCalendar:
    def __init__(self, account: ServiceAccount, calendar_id: str, *, api_url: str = API_URL,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 sleep: Callable[[float], None] = time.sleep, timeout: float = 10.0):
        self.account = account
        self.calendar_id = calendar_id
        self.clock = clock
        self.api = TrackerHttp(api_url, timeout=timeout, retries=3, sleep=sleep)
        token_base, _, self._token_path = account.token_uri.rpartition("/")
        self.auth = TrackerHttp(token_base, timeout=timeout, retries=3, sleep=sleep)
        self._token: str | None = None
        self._expires = datetime.min.replace(tzinfo=UTC)

    def move_event(self, event_id: str, start: datetime) -> dict[str, Any]:
        """Start the event at `start`, keeping its length and time zone."""
        event = self._call("GET", event_id)
        old_start, old_end = _when(event.get("start")), _when(event.get("end"))
        if old_start == start and event.get("status") != "cancelled":
            return event
        all_day = bool((event.get("start") or {}).get("date"))
        length = DEFAULT_LENGTH if all_day or not (old_start and old_end) else old_end - old_start
        zone = (event.get("start") or {}).get("timeZone")
        body = {"start": _point(start, zone, all_day), "end": _point(start + length, zone, all_day),
                "status": "confirmed"}
        return self._call("PATCH", event_id, json=body)

    def cancel_event(self, event_id: str) -> dict[str, Any]:
        event = self._call("GET", event_id)
        if event.get("status") == "cancelled":
            return event
        return self._call("PATCH", event_id, json={"status": "cancelled"})

    def _call(self, method: str, event_id: str, **kwargs: Any) -> dict[str, Any]:
        path = f"calendars/{quote(self.calendar_id, safe='')}/events/{quote(event_id, safe='')}"
        params = {"sendUpdates": "all"} if method == "PATCH" else None  # tell the attendees
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self._access_token()}"}
            try:
                return self.api.request(method, path, headers=headers, params=params, **kwargs)
            except TrackerError as exc:
                if exc.status == 401 and attempt == 1:
                    self._token = None  # revoked or expired early: one fresh token, one retry
                    continue
                raise CalendarError(f"Google Calendar {method} failed: {exc}", exc.status in GONE,
                                    exc.status) from None
        raise AssertionError("unreachable")

    def _access_token(self) -> str:
        now = self.clock()
        if self._token and now < self._expires - EARLY_REFRESH:
            return self._token
        form = {"grant_type": GRANT_TYPE, "assertion": signed_assertion(self.account, now)}
        try:
            answer = self.auth.request("POST", self._token_path, data=form)
        except TrackerError as exc:
            raise CalendarError(f"Google token request failed: {exc}", exc.permanent, exc.status) from None
        if not isinstance(answer, dict) or not answer.get("access_token"):
            raise CalendarError("Google token answer has no access_token")
        self._token = str(answer["access_token"])
        self._expires = now + timedelta(seconds=int(answer.get("expires_in") or 3600))
        return self._token


def _when(point: dict[str, Any] | None) -> datetime | None:
    if not point:
        return None
    if point.get("dateTime"):
        return datetime.fromisoformat(point["dateTime"].replace("Z", "+00:00")).astimezone(UTC)
    if point.get("date"):
        return datetime.fromisoformat(point["date"]).replace(tzinfo=UTC)
    return None


def _point(moment: datetime, zone: str | None, was_all_day: bool) -> dict[str, Any]:
    point: dict[str, Any] = {"dateTime": moment.astimezone(UTC).isoformat().replace("+00:00", "Z")}
    if zone:
        point["timeZone"] = zone
    if was_all_day:
        point["date"] = None  # patch keeps fields it is not sent: the stale date must be cleared
    return point
