"""/ready review, /ready reviews, /ready review cancel, and the review form.

A review names runs; those the channel does not track yet are tracked first (the same code as
`/ready track`), so the poller watches them and their progress shows in `/ready runs`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.commands import ReviewAdd, ReviewCancel, ReviewList, ReviewModal, RunRef, Track, Untrack, When
from bot.commands.help import USAGE
from bot.commands.when import TooFarAhead, is_past, resolve_when
from bot.core.eta import format_duration
from bot.core.reviews import AUTO_POSTPONE, CANCELLED, DEFAULT_BUFFER, DEFAULT_LEAD, SCHEDULED, UPCOMING
from bot.handlers import tracking
from bot.handlers.base import Ctx, Problem, Reply
from bot.handlers.review_decisions import decide
from bot.handlers.review_form import Draft, review_modal_view
from bot.handlers.user_tz import UNKNOWN_ZONE, zone_of_user
from bot.jobs.reviews import evaluate
from bot.notify.outbox import enqueue
from bot.notify.render import escape, render_text
from bot.notify.review_messages import review_info
from bot.store import reviews as rq
from bot.store import runs as q
from bot.store.models import Connection, Review, ReviewRun

__all__ = ["add", "cancel", "list_reviews", "open_modal", "review_modal_view", "schedule"]


def add(ctx: Ctx, cmd: ReviewAdd) -> Reply:
    return schedule(ctx, Draft(cmd.title, cmd.when, cmd.runs, cmd.lead))


def schedule(ctx: Ctx, draft: Draft) -> Reply:
    at, zone, zone_known = meeting_time(ctx, draft.when)
    refs = [*draft.runs, *([draft.baseline] if draft.baseline else [])]
    located = [(ref, _connection(ctx, ref)) for ref in refs]
    newly = _track_missing(ctx, located)
    lead = draft.lead or DEFAULT_LEAD
    now = ctx.now
    with ctx.store.tx() as s:
        run_ids = [q.get_run(s, conn.id, ref.ref).id for ref, conn in located]
        review = Review(
            team_id=ctx.team_id, channel_id=ctx.channel_id, title=draft.title, at=at, original_at=at,
            lead_minutes=int(lead / timedelta(minutes=1)), policy=draft.policy,
            buffer_minutes=int(DEFAULT_BUFFER / timedelta(minutes=1)), state=SCHEDULED,
            baseline_run_id=run_ids[-1] if draft.baseline else None, sequence=0,
            gcal_event_id=draft.gcal_event_id, created_by=ctx.user_id, created_at=now,
        )
        s.add(review)
        s.flush()
        for run_id in dict.fromkeys(run_ids[: len(draft.runs)]):
            s.add(ReviewRun(review_id=review.id, run_id=run_id))
        rq.created(s, review, ctx.user_id, now)
        names = [run.name or run.ref for run, _ in rq.review_runs(s, review.id)]
        _announce(s, review, names, ctx.user_id, lead, now)
        # Runs that are already done (or a meeting already inside its lead time) are told at
        # once, not at the readiness job's next tick.
        evaluate(s, review, now)
        token = rq.calendar_token(s, ctx.team_id, ctx.channel_id)
    local = at.astimezone(zone)
    text = (f":calendar: Scheduled review #{review.id} *{escape(draft.title)}* for {local:%a %d %b %Y %H:%M} "
            f"({zone.key}); the channel will see it.")
    if not zone_known:
        text += f"\n{UNKNOWN_ZONE}"
    if newly:
        text += f"\nNow also tracking in this channel: {', '.join(f'`{escape(n)}`' for n in newly)}."
    text += f"\nCalendar feed of this channel's reviews: {feed_url(ctx, token)}"
    return Reply(text)


def meeting_time(ctx: Ctx, when: When) -> tuple[datetime, ZoneInfo, bool]:
    """`when` read in the user's own Slack time zone, as an instant in UTC; the zone used, and
    whether it is really the user's (False: Slack could not tell, UTC stood in)."""
    zone, known = zone_of_user(ctx.services, ctx.client, ctx.team_id, ctx.user_id)
    now_local = ctx.now.astimezone(zone)
    try:
        at = resolve_when(when, now_local)
    except TooFarAhead as exc:
        raise Problem(f"{exc}.", USAGE["review"], extra={"field": "when"}) from None
    if is_past(at, now_local, inclusive=True):
        shown = at.strftime("%Y-%m-%d %H:%M")
        note = "" if known else f"\n{UNKNOWN_ZONE}"
        raise Problem(f"{shown} ({zone.key}) has already passed; pick a time ahead.{note}", USAGE["review"],
                      extra={"field": "when"})
    return at.astimezone(UTC), zone, known


def _connection(ctx: Ctx, ref: RunRef) -> Connection:
    if ref.experiment:
        raise Problem("A review is about runs: name each run, not an experiment.", USAGE["review"])
    return tracking.resolve_connection(ctx, ref, USAGE["review"])


def _track_missing(ctx: Ctx, located: list[tuple[RunRef, Connection]]) -> list[str]:
    """Track, in this channel, the named runs it does not track yet; their names."""
    newly: list[RunRef] = []
    try:
        for ref, conn in located:
            with ctx.store.tx() as s:
                run = q.get_run(s, conn.id, ref.ref)
                watched = run is not None and (ctx.team_id, ctx.channel_id) in q.channels_of(s, run.id)
            if not watched and RunRef(conn.name, ref.ref) not in newly:
                tracking.track(ctx, Track(RunRef(conn.name, ref.ref)))
                newly.append(RunRef(conn.name, ref.ref))
    except Problem:
        # All or nothing: a run the tracker does not know means no review, and no half of it.
        for done in newly:
            tracking.untrack(ctx, Untrack(done))
        raise
    return [f"{r.conn}:{r.ref}" for r in newly]


def _announce(s, review: Review, runs: list[str], user: str, lead: timedelta, now: datetime) -> None:  # noqa: ANN001
    enqueue(
        s,
        key=f"review:{review.id}:scheduled",
        team_id=review.team_id,
        channel_id=review.channel_id,
        template="review_scheduled",
        payload={"review": review_info(review), "user": user, "runs": runs, "lead": format_duration(lead),
                 "auto": review.policy == AUTO_POSTPONE},
        now=now,
    )


def open_modal(ctx: Ctx, cmd: ReviewModal) -> Reply:
    if ctx.client is None or not ctx.trigger_id:
        raise Problem("Cannot open the form here; use the text form.", USAGE["review"])
    view = review_modal_view(ctx.channel_id, [str(r) for r in cmd.prefill_runs], gcal_enabled(ctx))
    ctx.client.views_open(trigger_id=ctx.trigger_id, view=view)
    return Reply("")


def gcal_enabled(ctx: Ctx) -> bool:
    return bool(ctx.services.settings.google_credentials_file)


def list_reviews(ctx: Ctx, _cmd: ReviewList) -> Reply:
    with ctx.store.tx() as s:
        rows = []
        for review in rq.channel_reviews(s, ctx.channel_id, UPCOMING):
            ready = rq.readiness_of(rq.review_runs(s, review.id))
            rows.append({**review_info(review), "policy": review.policy,
                         "finished": ready.finished, "total": ready.total})
        token = rq.calendar_token(s, ctx.team_id, ctx.channel_id)
    return Reply(render_text("review_list", reviews=rows, feed=feed_url(ctx, token)))


def cancel(ctx: Ctx, cmd: ReviewCancel) -> Reply:
    done = decide(ctx.services, cmd.id, CANCELLED, ctx.user_id, ctx.team_id, ctx.channel_id)
    return Reply(f":wastebasket: <@{ctx.user_id}> cancelled review #{done.review_id} *{escape(done.title)}*.",
                 public=True)


def feed_url(ctx: Ctx, token: str) -> str:
    settings = ctx.services.settings
    base = settings.public_url or f"http://localhost:{settings.port}"
    return f"{base}/calendar/{token}.ics"
