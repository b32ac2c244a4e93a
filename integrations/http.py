"""HTTP with a timeout, bounded retries, backoff and Retry-After: written once for every tracker."""

from __future__ import annotations

import base64
import logging
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from integrations import outbound
from integrations.base import MalformedAnswer, TrackerError
from integrations.outbound import OutboundPolicy, Resolver
from integrations.pinned import PinnedAdapter

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 60.0  # never block a poll cycle longer than this on one tracker


class TrackerHttp:
    """A small JSON client bound to one tracker base URL.

    `sleep` is injectable so tests never wait in real time.
    """

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        policy: OutboundPolicy | None = None,
        resolve: Resolver = socket.getaddrinfo,
    ):
        self.base_url = base_url.rstrip("/") + "/"
        self.session = session or requests.Session()
        self.policy = policy or outbound.DEFAULT
        self.resolve = resolve
        # Every request and redirect hop is checked and connects to an address the check passed.
        pinned = PinnedAdapter(self._vet)
        self.session.mount("http://", pinned)
        self.session.mount("https://", pinned)
        self.session.headers.update(headers or {})
        if auth is not None:
            self.session.auth = auth
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.requests_made = 0  # for benchmarks and tests that count requests

    def get(self, path: str, params: Any = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, json=body)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.base_url + path.lstrip("/")
        self._vet(url)  # a refusal is permanent: no attempt, no retry (the adapter checks again to connect)
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                self.requests_made += 1
                resp = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except requests.RequestException as exc:
                # Only the exception class: its text can carry the URL with credentials.
                if last:
                    raise TrackerError(f"cannot reach tracker ({type(exc).__name__})") from None
                self.sleep(self.backoff * 2**attempt)
                continue
            if resp.status_code in RETRYABLE_STATUS and not last:
                self.sleep(_delay(resp, self.backoff * 2**attempt))
                continue
            return _decode(resp)
        raise AssertionError("unreachable")

    def guard(self, policy: OutboundPolicy | None) -> None:
        """Apply the install's outbound policy (also to a client a test injected)."""
        if policy is not None:
            self.policy = policy

    def _vet(self, url: str) -> list[outbound.Address]:
        return outbound.check_url(url, self.policy, self.resolve)


def retry_after_seconds(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if value is None and resp.status_code == 429:
        # W&B rate limits answer with RateLimit-Reset (seconds until the window resets,
        # IETF draft-ietf-httpapi-ratelimit-headers) and may omit Retry-After. Only on 429:
        # the header rides on ordinary responses too and means nothing for a 5xx.
        value = resp.headers.get("RateLimit-Reset")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _reset_in(resp: requests.Response) -> float | None:
    """Seconds until an `x-ratelimit-reset` epoch (or Retry-After when the answer gives one)."""
    asked = retry_after_seconds(resp)
    if asked is not None:
        return asked
    try:
        return max(0.0, float(resp.headers["x-ratelimit-reset"]) - time.time())
    except (KeyError, ValueError):
        return None


def _delay(resp: requests.Response, default: float) -> float:
    asked = retry_after_seconds(resp)
    return min(MAX_RETRY_AFTER, asked if asked is not None else default)


def _decode(resp: requests.Response) -> Any:
    status = resp.status_code
    if status < 400:
        if not resp.content:
            return {}
        try:
            return resp.json()
        except ValueError:
            raise MalformedAnswer(f"tracker answered HTTP {status} with a body that is not JSON") from None
        except RecursionError:  # JSON nested thousands deep: no tracker answers that
            raise MalformedAnswer(f"tracker answered HTTP {status} with JSON nested too deep") from None
    detail = _error_detail(resp)
    if status in (403, 429) and resp.headers.get("x-ratelimit-remaining") == "0":
        # GitHub spends a quota: out of it, it answers 403 (or 429) and names the reset time.
        # https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit
        raise TrackerError(f"tracker is rate limiting us (HTTP {status})", retry_after=_reset_in(resp), status=429)
    if status in (401, 403):
        raise TrackerError(
            f"tracker refused the credentials (HTTP {status}){detail}", permanent=True, status=status
        )
    if status == 404:
        raise TrackerError(f"not found on the tracker (HTTP 404){detail}", permanent=True, status=status)
    if status == 429:
        raise TrackerError(
            "tracker is rate limiting us (HTTP 429)", retry_after=retry_after_seconds(resp), status=status
        )
    if status >= 500:
        raise TrackerError(f"tracker error (HTTP {status})", status=status)
    raise TrackerError(f"tracker rejected the request (HTTP {status}){detail}", permanent=True, status=status)


def _error_detail(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        code = body.get("error_code") or body.get("code") or ""
        message = str(body.get("message") or body.get("msg") or "")
        for secret in _credentials(resp):
            # Some trackers echo the key they refused; the message must never carry it.
            message = message.replace(secret, "***")
        message = message[:200]
        if code or message:
            return f": {code} {message}".rstrip()
    return ""


def _credentials(resp: requests.Response) -> list[str]:
    """The secrets this request carried: a raw Authorization value and a Basic password."""
    request = getattr(resp, "request", None)
    value = request.headers.get("Authorization", "") if request is not None else ""
    found = [value] if len(value) >= 8 else []  # short values would blank out ordinary words
    scheme, _, token = value.partition(" ")
    if scheme.lower() in ("basic", "bearer") and token:
        found.append(token)
        if scheme.lower() == "basic":
            try:
                password = base64.b64decode(token).decode().partition(":")[2]
            except ValueError:
                password = ""
            if len(password) >= 8:
                found.append(password)
    return found
