"""Google Calendar sync against a local fake of the documented API (tests/fakes/gcal_server.py):
the service-account token flow, events.get/patch, retries, and the sync job over the database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from bot.config import ConfigError, load
from bot.core.reviews import CANCELLED, POSTPONED
from bot.jobs.calendar_sync import ACTOR, sync_calendar
from bot.store import reviews as rq
from bot.store.models import Review, ReviewEvent
from integrations.calendar.google import CalendarError, GoogleCalendar, ServiceAccount
from tests.fakes.gcal_server import FakeGoogleCalendar

CURRENT_TIME = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
EMAIL = "readybot@example-project.iam.gserviceaccount.com"
CALENDAR = "ml-team@group.calendar.google.com"  # the @ and . must survive in the URL path


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def google(key):
    with FakeGoogleCalendar(key.public_key(), EMAIL, CALENDAR) as fake:
        fake.add_event("evt1", {"dateTime": "2026-11-23T15:00:00+01:00", "timeZone": "Europe/Berlin"},
                       {"dateTime": "2026-11-23T15:45:00+01:00", "timeZone": "Europe/Berlin"})
        yield fake


class Clock:
    def __init__(self) -> None:
        self.now = CURRENT_TIME

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def client_for(google: FakeGoogleCalendar, private_key: str, clock, sleeps: list | None = None) -> GoogleCalendar:
    account = ServiceAccount(EMAIL, private_key, google.token_uri)
    return GoogleCalendar(account, CALENDAR, api_url=google.api_url, clock=clock,
                          sleep=(sleeps if sleeps is not None else []).append)


def test_move_keeps_length_and_zone_and_tells_attendees(google, key, clock):
    client = client_for(google, pem(key), clock)
    event = client.move_event("evt1", datetime(2026, 11, 23, 15, 40, tzinfo=UTC))
    assert event["start"] == {"dateTime": "2026-11-23T15:40:00Z", "timeZone": "Europe/Berlin"}
    assert event["end"]["dateTime"] == "2026-11-23T16:25:00Z"  # still 45 minutes
    token, get, patch = google.requests
    assert (token.method, token.path) == ("POST", "/token")
    assert token.body["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert (get.method, patch.method) == ("GET", "PATCH")
    assert patch.path == "/calendar/v3/calendars/ml-team%40group.calendar.google.com/events/evt1"
    assert patch.query == {"sendUpdates": ["all"]}
    assert patch.headers["Authorization"].startswith("Bearer ya29.fake-")


def test_an_event_already_in_place_is_not_patched(google, key, clock):
    client = client_for(google, pem(key), clock)
    client.move_event("evt1", datetime(2026, 11, 23, 14, 0, tzinfo=UTC))  # 15:00 Berlin
    assert [r.method for r in google.requests] == ["POST", "GET"]


def test_token_is_reused_then_renewed_before_it_expires(google, key, clock):
    client = client_for(google, pem(key), clock)
    client.cancel_event("evt1")
    client.move_event("evt1", datetime(2026, 11, 23, 18, 0, tzinfo=UTC))
    assert google.count("token") == 1
    clock.now += timedelta(minutes=56)  # within 5 minutes of the 3599 s lifetime
    client.move_event("evt1", datetime(2026, 11, 23, 19, 0, tzinfo=UTC))
    assert google.count("token") == 2


def test_a_revoked_token_is_replaced_once(google, key, clock):
    client = client_for(google, pem(key), clock)
    client.cancel_event("evt1")
    google.revoke_tokens()
    assert client.move_event("evt1", datetime(2026, 11, 23, 18, 0, tzinfo=UTC))["status"] == "confirmed"
    assert google.count("token") == 2


def test_rate_limits_are_retried_after_the_time_asked(google, key, clock):
    sleeps: list[float] = []
    client = client_for(google, pem(key), clock, sleeps)
    client.cancel_event("evt1")
    google.rate_limit_next(7)
    assert client.cancel_event("evt1")["status"] == "cancelled"
    assert sleeps == [7.0]


def test_a_missing_event_is_a_permanent_error(google, key, clock):
    with pytest.raises(CalendarError) as caught:
        client_for(google, pem(key), clock).move_event("nope", CURRENT_TIME)
    assert caught.value.permanent and caught.value.status == 404


def test_a_key_the_account_does_not_have_is_refused(google, clock):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(CalendarError, match="token request failed") as caught:
        client_for(google, pem(stranger), clock).move_event("evt1", CURRENT_TIME)
    assert caught.value.permanent
    assert google.count("token") == 1 and len(google.requests) == 1


def test_credentials_file_and_settings(tmp_path, key):
    path = tmp_path / "sa.json"
    path.write_text(json.dumps({"type": "service_account", "client_email": EMAIL, "private_key": pem(key),
                                "token_uri": "https://oauth2.googleapis.com/token"}))
    assert ServiceAccount.from_file(path).client_email == EMAIL
    assert "PRIVATE KEY" not in repr(ServiceAccount.from_file(path))
    settings = load({"READYBOT_GOOGLE_CREDENTIALS_FILE": str(path), "READYBOT_GOOGLE_CALENDAR_ID": CALENDAR},
                    dotenv=None)
    assert (settings.google_credentials_file, settings.google_calendar_id) == (str(path), CALENDAR)
    with pytest.raises(ConfigError, match="set together"):
        load({"READYBOT_GOOGLE_CREDENTIALS_FILE": str(path)}, dotenv=None)
    with pytest.raises(ConfigError, match="readable file"):
        load({"READYBOT_GOOGLE_CREDENTIALS_FILE": str(tmp_path / "x"), "READYBOT_GOOGLE_CALENDAR_ID": "c"},
             dotenv=None)


# the sync job, over the real database


def add_review(services, event_id: str = "evt1") -> int:
    now = services.clock()
    with services.store.tx() as s:
        review = Review(team_id="T1", channel_id="C1", title="Ablation", at=datetime(2026, 11, 23, 14, tzinfo=UTC),
                        original_at=datetime(2026, 11, 23, 14, tzinfo=UTC), gcal_event_id=event_id,
                        created_at=now, state="scheduled", sequence=0, lead_minutes=120, buffer_minutes=30,
                        policy="warn")
        s.add(review)
        s.flush()
        return review.id


def change(services, review_id: int, state: str, at: datetime | None = None) -> None:
    with services.store.tx() as s:
        rq.change(s, rq.lock(s, review_id), state, "U1", services.clock(), at=at)


def receipts(services, review_id: int) -> list[str]:
    with services.store.tx() as s:
        return list(s.scalars(select(ReviewEvent.note).where(ReviewEvent.review_id == review_id,
                                                             ReviewEvent.actor == ACTOR).order_by(ReviewEvent.id)))


def test_sync_job_moves_then_cancels_the_linked_event_once_per_change(services, google, key):
    services.google_calendar = client_for(google, pem(key), services.clock)
    review_id = add_review(services)
    assert sync_calendar(services) == 1  # version 0: already at 14:00 UTC, nothing to patch
    assert sync_calendar(services) == 0

    change(services, review_id, POSTPONED, at=datetime(2026, 11, 23, 16, 40, tzinfo=UTC))
    google.fail_next(503, times=4)  # more than one call's retries: this round gives up
    assert sync_calendar(services) == 0
    assert sync_calendar(services) == 1
    assert google.events["evt1"]["start"]["dateTime"] == "2026-11-23T16:40:00Z"

    change(services, review_id, CANCELLED)
    assert sync_calendar(services) == 1
    assert google.events["evt1"]["status"] == "cancelled"
    before = len(google.requests)
    assert sync_calendar(services) == 0 and len(google.requests) == before
    assert receipts(services, review_id) == [
        "calendar sequence 0: synced", "calendar sequence 1: synced", "calendar sequence 2: synced",
    ]


def test_sync_job_gives_up_on_a_deleted_event(services, google, key):
    services.google_calendar = client_for(google, pem(key), services.clock)
    review_id = add_review(services, event_id="gone")
    assert sync_calendar(services) == 0
    assert sync_calendar(services) == 0
    [note] = receipts(services, review_id)
    assert note.startswith("calendar sequence 0: failed")
