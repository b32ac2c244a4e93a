"""/ready review, /ready reviews, /ready review cancel, and the review form.

A review names runs, or experiments standing for their runs active when it is scheduled; what
the channel does not track yet is tracked first (the same code as `/ready track`), so the poller
watches it and the runs' progress shows in `/ready runs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

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
from bot.jobs.reviews import evaluate, last_decision
from bot.notify.outbox import enqueue
from bot.notify.render import escape, render_text
from bot.notify.review_messages import review_info
from bot.services import Services
from bot.store import reviews as rq
from bot.store import runs as q
from bot.store.models import Connection, Review, ReviewRun, Run, Watch, WatchRun
from integrations.base import RunState
from integrations.registry import POLLED

__all__ = ["add", "cancel", "list_reviews", "open_modal", "review_modal_view", "schedule"]


def add(ctx: Ctx, cmd: ReviewAdd) -> Reply:
    return schedule(ctx, Draft(cmd.title, cmd.when, cmd.runs, cmd.lead))


def schedule(ctx: Ctx, draft: Draft) -> Reply:
    at, zone, zone_known = meeting_time(ctx, draft.when)
    if draft.baseline and draft.baseline.experiment:
        raise Problem("The baseline is one run to compare with: name it, not an experiment.", USAGE["review"],
                      extra={"field": "baseline"})
    wanted = _WaitingOn()
    _locate_and_track(ctx, [*draft.runs, *([draft.baseline] if draft.baseline else [])], wanted)
    located, newly = wanted.located, [str(ref) for ref in wanted.newly]
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
        for run_id in dict.fromkeys(run_ids[: len(located) - bool(draft.baseline)]):
            s.add(ReviewRun(review_id=review.id, run_id=run_id))
        rq.created(s, review, ctx.user_id, now)
        linked = rq.review_runs(s, review.id)
        names = [run.name or run.ref for run, _ in linked]
        _announce(s, review, names, ctx.user_id, lead, now, last_decision(s, review, [run for run, _ in linked]))
        # Runs that are already done (or a meeting already inside its lead time) are told at
        # once, not at the readiness job's next tick.
        evaluate(s, review, now)
        token = rq.calendar_token(s, ctx.team_id, ctx.channel_id)
    local = at.astimezone(zone)
    text = (f":calendar: Scheduled review #{review.id} *{escape(draft.title)}* for {local:%a %d %b %Y %H:%M} "
            f"({zone.key}); the channel will see it.")
    if not zone_known:
        text += f"\n{UNKNOWN_ZONE}"
    text += "".join(f"\n{note}" for note in wanted.notes)
    if newly:
        text += f"\nNow also tracking in this channel: {', '.join(f'`{escape(n)}`' for n in newly)}."
    text += f"\nCalendar feed of this channel's reviews: {feed_url(ctx, token)}"
    return Reply(text, done={"review_id": review.id, "at": at})


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


@dataclass
class _WaitingOn:
    """What a review waits on, as it is worked out: the runs with their connections (an
    experiment's active runs in its place), what this channel tracks now that it did not, and
    a line per experiment saying which of its runs count."""

    located: list[tuple[RunRef, Connection]] = field(default_factory=list)
    newly: list[RunRef] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _locate_and_track(ctx: Ctx, refs: list[RunRef], wanted: _WaitingOn) -> None:
    """Track, in this channel, the named runs and experiments it does not track yet."""
    try:
        for ref in refs:
            conn = tracking.resolve_connection(ctx, ref, USAGE["review"])
            named = [ref.ref] if not ref.experiment else _experiment_runs(ctx, conn, ref.ref, wanted)
            for run_ref in named:
                _track_once(ctx, conn, RunRef(conn.name, run_ref), wanted)
                wanted.located.append((RunRef(conn.name, run_ref), conn))
    except Problem:
        # All or nothing: a run the tracker does not know means no review, and no half of it.
        for done in wanted.newly:
            tracking.untrack(ctx, Untrack(done))
        raise


def _track_once(ctx: Ctx, conn: Connection, ref: RunRef, wanted: _WaitingOn) -> None:
    if ref in wanted.newly:
        return
    with ctx.store.tx() as s:
        if ref.experiment:
            watched = _experiment_watch(s, ctx.channel_id, conn, ref.ref) is not None
        else:
            run = q.get_run(s, conn.id, ref.ref)
            watched = run is not None and (ctx.team_id, ctx.channel_id) in q.channels_of(s, run.id)
    if not watched:
        tracking.track(ctx, Track(ref))
        wanted.newly.append(ref)


def _experiment_watch(s, channel_id: str, conn: Connection, name: str) -> Watch | None:  # noqa: ANN001
    return s.scalar(select(Watch).where(Watch.channel_id == channel_id, Watch.connection_id == conn.id,
                                        Watch.ref == name, Watch.is_experiment.is_(True)))


def _experiment_runs(ctx: Ctx, conn: Connection, name: str, wanted: _WaitingOn) -> list[str]:
    """The refs of the experiment's runs that have not ended yet: those the review waits on.

    A polled tracker is asked through `/ready track` of the experiment, which the channel then
    watches; pushed runs name their experiment themselves, so the ones already reported count."""
    if conn.kind in POLLED:
        _track_once(ctx, conn, RunRef(conn.name, name, True), wanted)
    with ctx.store.tx() as s:
        query = select(Run).where(Run.connection_id == conn.id).order_by(Run.id)
        if conn.kind in POLLED:
            watch = _experiment_watch(s, ctx.channel_id, conn, name)
            query = query.join(WatchRun, WatchRun.run_id == Run.id).where(WatchRun.watch_id == watch.id)
        else:
            query = query.where(Run.experiment == name)
        runs = [(run.ref, run.name or run.ref, RunState(run.state).is_terminal) for run in s.scalars(query)]
    active = [(ref, shown) for ref, shown, ended in runs if not ended]
    ended = len(runs) - len(active)
    if not active:
        raise Problem(f"Experiment `{escape(name)}` on {conn.name} has no active runs right now "
                      f"({_none_active(conn, ended)}), so the review would wait on nothing. Name the runs "
                      "to review instead, as `&lt;conn&gt;:&lt;run-id&gt;`.", USAGE["review"])
    note = (f":hourglass: Waiting on the {_runs(len(active))} of experiment `{escape(name)}` active now: "
            + ", ".join(f"`{escape(shown)}`" for _ref, shown in active) + ".")
    if ended:
        has, is_ = ("has", "is") if ended == 1 else ("have", "are")
        note += (f" {_runs(ended)} of it {has} already ended and {is_} not part of the review; "
                 "runs it starts from now on are not either.")
    wanted.notes.append(note)
    return [ref for ref, _shown in active]


def _none_active(conn: Connection, ended: int) -> str:
    if ended == 1:
        return "its 1 run has ended"
    if ended:
        return f"{_runs(ended)} of it have ended"
    return "it has no runs yet" if conn.kind in POLLED else "no runs of it have reported yet"


def _runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def _announce(s, review: Review, runs: list[str], user: str, lead: timedelta, now: datetime,  # noqa: ANN001
              last: dict | None = None) -> None:
    enqueue(
        s,
        key=f"review:{review.id}:scheduled",
        team_id=review.team_id,
        channel_id=review.channel_id,
        template="review_scheduled",
        payload={"review": review_info(review), "user": user, "runs": runs, "lead": format_duration(lead),
                 "auto": review.policy == AUTO_POSTPONE, "last_decision": last},
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
        for review in rq.channel_reviews(s, ctx.team_id, ctx.channel_id, UPCOMING):
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
    return public_link(ctx.services, f"/calendar/{token}.ics")


def public_link(services: Services, path: str) -> str:
    """A link to one of the bot's HTTP routes (calendar feed, decision export)."""
    settings = services.settings
    return (settings.public_url or f"http://localhost:{settings.port}") + path
