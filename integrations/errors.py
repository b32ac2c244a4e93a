"""The errors a tracker call can end in. Their own module so that modules base.py depends on
(integrations/outbound.py) can raise them without importing base back."""

from __future__ import annotations


class TrackerError(Exception):
    """A failed tracker call.

    permanent: retrying will not help (bad credentials, unknown run or experiment).
    retry_after: seconds the tracker asked us to wait (HTTP 429 Retry-After).
    status: the HTTP status behind the error, when there was one (lets an integration tell
    "unknown run" from "bad credentials" without parsing the message).
    The message must never contain a credential.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
    ):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.status = status


class MalformedAnswer(TrackerError):
    """The tracker answered, but not in the shape its API documents (a wrong type, a missing
    field). Not permanent: the next answer may be fine. The message names the field, never a
    value, so it cannot carry anything the tracker echoed."""
