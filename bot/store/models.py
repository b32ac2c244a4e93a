"""What readybot keeps. The database is the source of truth; processes hold nothing durable.

Datetimes are stored as naive UTC (SQLite has no time zones) and always come back tz-aware.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass tz-aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


# Slack installations live in our schema and migrations, through slack_sdk's own table builders.
SQLAlchemyInstallationStore.build_installations_table(Base.metadata, "slack_installations")
SQLAlchemyInstallationStore.build_bots_table(Base.metadata, "slack_bots")
SQLAlchemyOAuthStateStore.build_oauth_states_table(Base.metadata, "slack_oauth_states")

ID = Integer  # portable autoincrement primary keys
# Ids that appear in outbox keys and button values are never handed out twice: SQLite reuses the
# largest rowid after a delete unless the table says AUTOINCREMENT (https://www.sqlite.org/autoinc.html);
# PostgreSQL sequences never go back. Every table with an `id` column carries this.
NEVER_REUSED = {"sqlite_autoincrement": True}
# MLflow logs steps as 64-bit integers (https://mlflow.org/docs/latest/rest-api.html#metric), and
# PostgreSQL's INTEGER stops at 2^31 - 1: every step column is a BIGINT.
Step = BigInteger


class Connection(Base):
    """A tracker the team connected: MLflow server, W&B entity, Comet workspace, TB log root, push."""

    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("team_id", "name"), NEVER_REUSED)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(Text, default="")
    secret_sealed: Mapped[str | None] = mapped_column(Text)  # SecretBox.seal(...)
    push_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime]


class Run(Base):
    """A training run we watch, with its latest normalized snapshot."""

    __tablename__ = "runs"
    __table_args__ = (UniqueConstraint("connection_id", "ref"), Index("ix_runs_active", "active"), NEVER_REUSED)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    ref: Mapped[str] = mapped_column(String(500))
    name: Mapped[str | None] = mapped_column(String(500))
    experiment: Mapped[str | None] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(16), default="unknown")
    step: Mapped[int | None] = mapped_column(Step)
    total_steps: Mapped[int | None] = mapped_column(Step)
    total_steps_override: Mapped[int | None] = mapped_column(Step)  # given with `/ready track ... steps N`
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    progress_at: Mapped[datetime | None]  # when step or heartbeat last advanced
    eta: Mapped[datetime | None]
    owner: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text)
    polled_at: Mapped[datetime | None]  # last successful answer from the tracker
    stale_since: Mapped[datetime | None]  # first failed poll since the last success
    last_error: Mapped[str | None] = mapped_column(Text)
    # "Not found" is only believed when it repeats (bot/core/runs.py confirm_missing): the first
    # successful answer without the run and how many such answers in a row.
    missing_since: Mapped[datetime | None]
    missing_polls: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # still polled
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class StopRequest(Base):
    """Someone asked, from Slack, that a run stop: one row per run, so a double click or two
    people at once send the tracker one stop. Pushed runs read it back in every push answer."""

    __tablename__ = "stop_requests"
    __table_args__ = NEVER_REUSED
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), unique=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    requested_by: Mapped[str] = mapped_column(String(32))  # Slack user id
    requested_by_name: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="sending")  # sending | sent
    requested_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class Watch(Base):
    """A channel tracking one run or every run of an experiment."""

    __tablename__ = "watches"
    __table_args__ = (UniqueConstraint("team_id", "channel_id", "connection_id", "ref", "is_experiment"), NEVER_REUSED)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32), index=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    ref: Mapped[str] = mapped_column(String(500))
    is_experiment: Mapped[bool] = mapped_column(Boolean, default=False)
    total_steps: Mapped[int | None] = mapped_column(Step)
    created_by: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime]
    last_listed_at: Mapped[datetime | None]  # experiment watches: newest start time seen


class WatchRun(Base):
    """Which runs a watch covers (one for a run watch, many for an experiment watch)."""

    __tablename__ = "watch_runs"
    watch_id: Mapped[int] = mapped_column(ForeignKey("watches.id", ondelete="CASCADE"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True, index=True)


class Target(Base):
    __tablename__ = "targets"
    __table_args__ = NEVER_REUSED
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32), index=True)
    metric: Mapped[str] = mapped_column(String(250))
    op: Mapped[str] = mapped_column(String(2))
    threshold: Mapped[float] = mapped_column(Float)
    patience: Mapped[int] = mapped_column(Integer, default=1)
    scope_connection_id: Mapped[int | None] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    scope_ref: Mapped[str | None] = mapped_column(String(500))
    scope_is_experiment: Mapped[bool] = mapped_column(Boolean, default=False)
    muted_by: Mapped[str | None] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime]


class TargetProgress(Base):
    """Per (target, run) evaluation state: streak, armed, crossings so far."""

    __tablename__ = "target_progress"
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    streak: Mapped[int] = mapped_column(Integer, default=0)
    armed: Mapped[bool] = mapped_column(Boolean, default=True)
    crossings: Mapped[int] = mapped_column(Integer, default=0)
    last_step: Mapped[int | None] = mapped_column(Step)
    last_at: Mapped[datetime | None]  # time of the newest point evaluated at last_step
    best: Mapped[float | None] = mapped_column(Float)
    snoozed_until: Mapped[datetime | None]
    # "Mute for this run" on the unlikely-to-reach message: no more alerts of this target about
    # this run until someone unmutes it (bot.handlers.forecast_actions).
    muted_by: Mapped[str | None] = mapped_column(String(32))
    muted_at: Mapped[datetime | None]


class Alert(Base):
    """One target crossing by one run: unique, so no restart or retry can alert twice."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("target_id", "run_id", "crossing"), NEVER_REUSED)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    crossing: Mapped[int] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Step)
    value: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime]
    message_key: Mapped[str | None] = mapped_column(String(200))  # outbox dedupe key of the message
    acknowledged_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]


class Review(Base):
    __tablename__ = "reviews"
    __table_args__ = NEVER_REUSED
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32), index=True)
    title: Mapped[str] = mapped_column(String(150))
    at: Mapped[datetime]
    original_at: Mapped[datetime]
    lead_minutes: Mapped[int] = mapped_column(Integer, default=120)
    policy: Mapped[str] = mapped_column(String(20), default="warn")  # warn | auto_postpone
    buffer_minutes: Mapped[int] = mapped_column(Integer, default=30)
    state: Mapped[str] = mapped_column(String(16), default="scheduled")
    baseline_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    sequence: Mapped[int] = mapped_column(Integer, default=0)  # iCalendar SEQUENCE
    gcal_event_id: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime]


class ReviewRun(Base):
    __tablename__ = "review_runs"
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)


class ReviewEvent(Base):
    """Every state change of a review, with who made it."""

    __tablename__ = "review_events"
    __table_args__ = NEVER_REUSED
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(32))  # Slack user id or "readybot"
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime]


class ChannelCalendar(Base):
    """A channel's calendar feed token. Per (team, channel): a channel id can exist in two
    workspaces (Slack Connect), and each must get its own feed."""

    __tablename__ = "channel_calendars"
    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)


class Schedule(Base):
    """A channel's standup or digest schedule."""

    __tablename__ = "schedules"
    __table_args__ = (UniqueConstraint("team_id", "channel_id", "kind"), NEVER_REUSED)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(10))  # standup | digest
    time: Mapped[str] = mapped_column(String(5))  # HH:MM local
    days: Mapped[str] = mapped_column(String(20))  # "0,1,2,3,4" (Monday=0)
    tz: Mapped[str] = mapped_column(String(64), default="UTC")  # channel default zone
    per_member_tz: Mapped[bool] = mapped_column(Boolean, default=True)
    questions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_sent_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime]


# Rows still to send (pending or sending), said as "not done" so that no index on status can serve
# it: SQLite, without statistics, would otherwise read ix_outbox_due and sort (bot/notify/turns.py).
OUTBOX_UNSENT = text("status NOT IN ('sent', 'failed')")


class Outbox(Base):
    """A notification to deliver. `dedupe_key` makes each logical notification unique."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "not_before"),
        # A claim's round-robin walks each channel's queue through this (bot/notify/turns.py); only
        # unsent rows, so the sent history does not lengthen the walk.
        Index("ix_outbox_queue", "team_id", "channel_id", "id", postgresql_where=OUTBOX_UNSENT,
              sqlite_where=OUTBOX_UNSENT),
        NEVER_REUSED,
    )
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))  # channel, or user id for a DM
    op: Mapped[str] = mapped_column(String(12), default="post")  # post | update | upload | dm
    template: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    parent_key: Mapped[str | None] = mapped_column(String(255))  # reply in / update this message
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending|sending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    ts: Mapped[str | None] = mapped_column(String(32))
    posted_channel: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class SeenRequest(Base):
    """Slack event ids and interaction payload ids already handled (Slack retries deliveries)."""

    __tablename__ = "seen_requests"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    at: Mapped[datetime]


class Lease(Base):
    """Leader lease for jobs that must run on one replica at a time (works through poolers too)."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]


class ConnectionPoll(Base):
    """When a connection is next due to be polled, who is polling it now, and how it went.

    Replicas share the polling by claiming due rows (bot/jobs/claims.py): `claimed_until` is
    the claim's end, so a replica that dies gives its connections back when it runs out."""

    __tablename__ = "connection_polls"
    __table_args__ = (Index("ix_connection_polls_due", "next_poll_at"),)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    next_poll_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None]
    polled_at: Mapped[datetime | None]  # last successful answer: the freshness of its runs' data
    errors: Mapped[int] = mapped_column(Integer, default=0)  # failed polls in a row, for the backoff


class UserProfile(Base):
    """Cached Slack profile bits we need: time zone for schedules and `<when>`."""

    __tablename__ = "user_profiles"
    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tz: Mapped[str] = mapped_column(String(64), default="UTC")
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    away_until: Mapped[datetime | None]
    fetched_at: Mapped[datetime]


class StandupRound(Base):
    """One standup of one channel for one period (a local date, or an ad-hoc `now-...` key).

    The unique (team, channel, period) triple is what lets every replica run the standup job: only the
    replica whose insert wins creates the round, so members are prompted once.
    """

    __tablename__ = "standup_rounds"
    __table_args__ = (UniqueConstraint("team_id", "channel_id", "period"), NEVER_REUSED)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(40))
    questions: Mapped[list[str]] = mapped_column(JSON, default=list)
    message_key: Mapped[str] = mapped_column(String(255))  # outbox key of the channel message
    opens_at: Mapped[datetime]  # earliest member prompt
    closes_at: Mapped[datetime]  # latest member window end
    summary_key: Mapped[str | None] = mapped_column(String(255))  # set once the summary is queued
    created_by: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime]


class StandupAnswer(Base):
    """One member's part in a round: when to prompt and remind them, and what they answered."""

    __tablename__ = "standup_answers"
    __table_args__ = (UniqueConstraint("round_id", "user_id"), Index("ix_standup_answers_user", "user_id"), NEVER_REUSED)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("standup_rounds.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(32))
    tz: Mapped[str] = mapped_column(String(64), default="UTC")
    prompt_at: Mapped[datetime]  # the member's own HH:MM
    due_at: Mapped[datetime]  # end of the member's answer window
    prompted_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending|answered|skipped|away
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    owner_keys: Mapped[list[str]] = mapped_column(JSON, default=list)  # names matched to Run.owner
    submitted_at: Mapped[datetime | None]


class DigestPost(Base):
    """One channel digest per period; `since_at` is where the next digest starts counting."""

    __tablename__ = "digest_posts"
    __table_args__ = (UniqueConstraint("team_id", "channel_id", "period"), NEVER_REUSED)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32), index=True)
    period: Mapped[str] = mapped_column(String(40))
    since_at: Mapped[datetime | None]
    at: Mapped[datetime]
    message_key: Mapped[str] = mapped_column(String(255))


class RunPoint(Base):
    """One pushed metric value at one step. Polled runs have their tracker's history; pushed runs
    only have what they sent, so the newest points per (run, key) are kept here for charts
    (bot.store.points caps them, pruning the oldest as new ones arrive)."""

    __tablename__ = "run_points"
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    step: Mapped[int] = mapped_column(Step, primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime]


class Decision(Base):
    """What a results review decided, who decided it and when, with a frozen copy of the cited
    runs' metrics and params (`runs`: a JSON list), so later tracker changes cannot rewrite it."""

    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_channel", "team_id", "channel_id", "decided_at"), NEVER_REUSED)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    review_id: Mapped[int | None] = mapped_column(ForeignKey("reviews.id", ondelete="SET NULL"))
    choice: Mapped[str] = mapped_column(String(20))  # ship | continue | stop | next
    note: Mapped[str] = mapped_column(Text, default="")
    runs: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    decided_by: Mapped[str] = mapped_column(String(32))
    decided_at: Mapped[datetime]
    message_key: Mapped[str | None] = mapped_column(String(255))  # outbox key of its Slack message
    permalink: Mapped[str | None] = mapped_column(Text)  # chat.getPermalink's answer, asked once
    edited_by: Mapped[str | None] = mapped_column(String(32))  # the last edit of choice or note
    edited_at: Mapped[datetime | None]


class DecisionRun(Base):
    """Which runs a decision rests on: how the next review of the same runs finds it."""

    __tablename__ = "decision_runs"
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True, index=True)


class LeaderboardLeader(Base):
    """The leader the channel's last digest showed for one metric, so the next can say "new best"."""

    __tablename__ = "leaderboard_leaders"
    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    metric: Mapped[str] = mapped_column(String(250), primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    run_name: Mapped[str] = mapped_column(String(500))
    value: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime]


class TrackerIdentity(Base):
    """A tracker username claimed by a Slack user (`/ready me prod:alice`): runs whose tracker
    names that owner are that person's. `tracker` is a connection name or a kind, lowercased;
    `username_key` the username as matched (lowercased), `username` as typed."""

    __tablename__ = "tracker_identities"
    __table_args__ = (UniqueConstraint("team_id", "tracker", "username_key"),
                      Index("ix_tracker_identities_user", "team_id", "user_id"), NEVER_REUSED)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    tracker: Mapped[str] = mapped_column(String(100))
    username: Mapped[str] = mapped_column(String(200))
    username_key: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]


class PersonSetting(Base):
    """A person's own choices; no row means the defaults (mentioned in alerts about their runs)."""

    __tablename__ = "person_settings"
    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    mentions: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime]
