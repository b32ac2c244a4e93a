"""Everything a listener or job needs, built once per process and passed down explicitly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from bot.config import Settings
from bot.fits import FitCache
from bot.people import People
from bot.slackapi import SlackClients
from bot.store.crypto import SecretBox
from bot.store.db import Store
from integrations.base import ConnectionInfo, Tracker
from integrations.calendar.google import GoogleCalendar
from integrations.issues import IssueTracker, issue_tracker
from integrations.outbound import OutboundPolicy
from integrations.registry import tracker_for

T = TypeVar("T")  # a tracker or an issue tracker: whatever a connection's factory makes


def utcnow() -> datetime:
    return datetime.now(UTC)


def outbound_policy(settings: Settings) -> OutboundPolicy:
    return OutboundPolicy.for_install(settings.oauth_mode, settings.tracker_allow, settings.tensorboard_roots)


def guarded(trackers: Callable[[ConnectionInfo], T], policy: OutboundPolicy) -> Callable[[ConnectionInfo], T]:
    """Every tracker this process builds carries the install's outbound policy (issue 12)."""
    return lambda info: trackers(replace(info, outbound=policy))


@dataclass
class Services:
    settings: Settings
    store: Store
    clients: SlackClients
    box: SecretBox
    clock: Callable[[], datetime] = utcnow
    trackers: Callable[[ConnectionInfo], Tracker] = tracker_for  # makes a connection's tracker
    issue_trackers: Callable[[ConnectionInfo], IssueTracker] = issue_tracker  # Jira / GitHub, for standup links
    # Per-process state, never shared between replicas (durable state lives in the database):
    # the tracker object of each connection, kept for its caches (bot.jobs.poll.tracker_for_connection),
    # keyed by (connection id, kind, url, sealed secret) so a changed connection gets a new one;
    tracker_cache: dict[tuple[int, str, str, str | None], Tracker] = field(default_factory=dict)
    # the Google Calendar client, made on first use from the settings (bot.jobs.calendar_sync);
    google_calendar: GoogleCalendar | None = None
    # when to ask Slack again for a standup's members it would not list: (team, channel, day) -> time.
    standup_retry_at: dict[tuple[str, str, date], datetime] = field(default_factory=dict)
    # whether a user is a workspace admin or owner, as users.info said: (team, user) -> (asked at,
    # admin), kept a few minutes (bot.handlers.permissions).
    admins: dict[tuple[str, str], tuple[datetime, bool]] = field(default_factory=dict)
    # what Jira / GitHub said of an issue reference, and until when a rate-limited connection
    # is left alone (bot.handlers.issue_links).
    issue_cache: dict[tuple[int, str], tuple[datetime, Any]] = field(default_factory=dict)
    issue_pause: dict[int, datetime] = field(default_factory=dict)
    # run owners as Slack users, for who may stop a run (bot.handlers.run_stop).
    people: People = field(init=False)
    # forecasts fitted for listings, until their run has new points (bot.fits).
    fits: FitCache = field(default_factory=FitCache)

    def __post_init__(self) -> None:
        self.people = People(self.store, self.clock)


def build_services(settings: Settings, store: Store | None = None, **overrides) -> Services:  # noqa: ANN003
    store = store or Store(settings.database_url)
    policy = outbound_policy(settings)
    overrides["trackers"] = guarded(overrides.get("trackers", tracker_for), policy)
    overrides["issue_trackers"] = guarded(overrides.get("issue_trackers", issue_tracker), policy)
    installation_store = None
    if settings.oauth_mode:
        from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore

        installation_store = SQLAlchemyInstallationStore(client_id=settings.slack_client_id, engine=store.engine)
    return Services(
        settings=settings,
        store=store,
        clients=SlackClients(settings, installation_store),
        box=SecretBox(settings.secret_key),
        **overrides,
    )
