"""/ready standup at|now|off and /ready digest at|now|off."""

from __future__ import annotations

from typing import Any

from bot.commands import DigestAt, DigestNow, DigestOff, StandupAt, StandupNow, StandupOff
from bot.core.schedules import Cadence, next_fire
from bot.core.standups import questions_of
from bot.core.words import plural
from bot.core.working_hours import WORKDAY_END, WORKDAY_START
from bot.handlers import permissions
from bot.handlers.base import Ctx, Problem, Reply
from bot.handlers.user_tz import UNKNOWN_ZONE, user_zone, zone_of_user
from bot.jobs.digests import post_digest
from bot.jobs.standup_rounds import open_now
from bot.jobs.standups import advance_round
from bot.notify.blocks import actions, button
from bot.store import standups as q
from bot.store.models import Schedule

EDIT_QUESTIONS = "standup_questions"


def _save(ctx: Ctx, kind: str, cadence: Cadence) -> tuple[Schedule, str, str]:
    """Create or replace the channel's schedule; its zone is the person's who set it. Also
    returns a note to append to the reply when Slack could not tell that zone."""
    zone, known = zone_of_user(ctx.services, ctx.client, ctx.team_id, ctx.user_id)
    tz = zone.key
    with ctx.store.tx() as s:
        if kind == "standup":
            q.drop_unstarted_rounds(s, ctx.team_id, ctx.channel_id)  # re-planned at the new time by the job
        schedule = q.schedule_of(s, ctx.team_id, ctx.channel_id, kind)
        if schedule is None:
            schedule = Schedule(team_id=ctx.team_id, channel_id=ctx.channel_id, kind=kind, questions={})
            s.add(schedule)
        schedule.time, schedule.days, schedule.tz = cadence.hhmm, cadence.days_text, tz
        # A schedule changed while on stays its setter's: whoever may turn it off (issue 12) must
        # not change by someone re-setting its time.
        if not (schedule.enabled and schedule.created_by):
            schedule.created_by = ctx.user_id
        schedule.enabled, schedule.per_member_tz = True, kind == "standup"
        # "Configured at": a time that already passed today is not caught up on (see core.schedules).
        schedule.created_at = ctx.now
    return schedule, tz, "" if known else f"\n{UNKNOWN_ZONE}"


def _next(cadence: Cadence, tz: str, ctx: Ctx) -> str:
    fire = next_fire(cadence, tz, ctx.now)
    if fire is None:
        return "never (no days chosen)"
    return f"<!date^{int(fire.timestamp())}^{{date_short_pretty}} {{time}}|{fire:%Y-%m-%d %H:%M} UTC>"


def standup_at(ctx: Ctx, cmd: StandupAt) -> Reply:
    cadence = Cadence(cmd.time, cmd.days)
    schedule, tz, note = _save(ctx, "standup", cadence)
    questions = questions_of(schedule.questions)
    text = (
        f":sunrise: Standup set for *{cadence.describe()}*, at that time in each member's own Slack time zone "
        f"(`{tz}` for anyone without one). Members get the questions by DM and answers are threaded here; "
        f"next: {_next(cadence, tz, ctx)}.\nQuestions: " + " / ".join(f"_{x}_" for x in questions) + note
    )
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}},
        actions(button("Edit questions", EDIT_QUESTIONS, ctx.channel_id)),
    ]
    return Reply(text, blocks=blocks)


def standup_now(ctx: Ctx, _cmd: StandupNow) -> Reply:
    if running := _running(ctx):
        return running
    opened = open_now(ctx.services, ctx.team_id, ctx.channel_id, ctx.user_id, ctx.now)
    if opened is None:
        if running := _running(ctx):  # the same command, twice at once: the other one opened it
            return running
        raise Problem("I could not list this channel's members (is readybot in the channel?). Nothing was sent.")
    asked = opened.asked
    if asked == 0:
        return Reply("Nobody to ask: this channel has no members besides bots.")
    advance_round(ctx.services, opened.round_id, ctx.now)  # the DMs go out now, not at the next job tick
    now_asked = asked - len(opened.deferred)
    verb = "gets" if now_asked == 1 else "get"
    text = (f":sunrise: Standup started: {plural(now_asked, 'member')} {verb} the questions by DM now; "
            "answers will be threaded under the standup message here.")
    if opened.deferred:
        text += (f"\n:crescent_moon: {plural(len(opened.deferred), 'member')} outside working hours "
                 f"({WORKDAY_START:%H:%M}-{WORKDAY_END:%H:%M} their time, Monday to Friday) get them at the start "
                 "of their next working day:\n"
                 + "\n".join(f"• {line}" for line in opened.deferred))
    return Reply(text)


def _running(ctx: Ctx) -> Reply | None:
    """A second `standup now` while one is open would ask everybody again: say so instead."""
    with ctx.store.tx() as s:
        rnd = q.running_round(s, ctx.team_id, ctx.channel_id, ctx.now)
        if rnd is None:
            return None
        closes = rnd.closes_at
    when = f"<!date^{int(closes.timestamp())}^{{time}}|{closes:%H:%M} UTC>"
    return Reply(f":sunrise: A standup is already under way in this channel; answers are threaded under its "
                 f"message until {when}. Nobody was asked twice.")


def standup_off(ctx: Ctx, _cmd: StandupOff) -> Reply:
    return _off(ctx, "standup")


def digest_at(ctx: Ctx, cmd: DigestAt) -> Reply:
    cadence = Cadence(cmd.time, cmd.days)
    _, tz, note = _save(ctx, "digest", cadence)
    return Reply(f":bar_chart: Digest set for *{cadence.describe()}* (`{tz}`): runs finished, failed and stalled "
                 f"since the previous digest, runs in progress, targets and upcoming reviews. "
                 f"Next: {_next(cadence, tz, ctx)}.{note}")


def digest_now(ctx: Ctx, _cmd: DigestNow) -> Reply:
    tz = user_zone(ctx.services, ctx.client, ctx.team_id, ctx.user_id).key
    period = f"now-{ctx.now:%Y%m%dT%H%M%S}"
    if not post_digest(ctx.services, ctx.team_id, ctx.channel_id, period, ctx.now, tz):
        return Reply("A digest was just posted here; give it a moment.")
    return Reply(":bar_chart: Digest on its way to this channel.")


def digest_off(ctx: Ctx, _cmd: DigestOff) -> Reply:
    return _off(ctx, "digest")


def _off(ctx: Ctx, kind: str) -> Reply:
    with ctx.store.tx() as s:
        schedule = q.schedule_of(s, ctx.team_id, ctx.channel_id, kind)
        if schedule is None or not schedule.enabled:
            return Reply(f"There is no {kind} scheduled in this channel.")
        created_by = schedule.created_by
    permissions.require(ctx.services, ctx.team_id, ctx.user_id, created_by, f"turn off the {kind} of this channel")
    with ctx.store.tx() as s:
        schedule = q.schedule_of(s, ctx.team_id, ctx.channel_id, kind)
        if schedule is None or not schedule.enabled:
            return Reply(f"There is no {kind} scheduled in this channel.")
        schedule.enabled = False
        if kind == "standup":
            q.drop_unstarted_rounds(s, ctx.team_id, ctx.channel_id)
    return Reply(f":zzz: The {kind} of this channel is off. `/ready {kind} at &lt;HH:MM&gt;` turns it back on.")
