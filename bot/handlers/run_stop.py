"""Stop a run from Slack: the Stop button of a run message or of `/ready runs`, and `/ready stop`.

The request is stored first (one `stop_requests` row per run, unique), then sent to the tracker
outside any transaction (a slow tracker must not hold locks): a double click or two people at
once insert one row, so the tracker gets one stop. A tracker that refuses or does not answer
takes the row back, so a later click can try again. W&B and MLflow are told through
`Stoppable.stop_run`; a pushed run reads the row back in the answer to its next push
(bot/push.py). Once sent, the channel is told who stopped what, and the clicked message's button
becomes "Stop requested by @x".

Who: whoever tracked the run in this channel, the run's owner (the Slack user its tracker's owner
is, bot/people.py), or a workspace admin or owner (bot/handlers/permissions.py). Where: the run must be tracked in the team and channel the click
comes from.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from bot.commands import Stop
from bot.commands.help import USAGE
from bot.handlers import permissions
from bot.handlers.base import Ctx, Problem, Reply
from bot.handlers.tracking import resolve_connection
from bot.notify import run_stop as msg
from bot.notify.blocks import actions
from bot.notify.outbox import edit
from bot.notify.render import date_token, escape
from bot.services import Services
from bot.store import runs as q
from bot.store.models import Connection, Outbox, Run, StopRequest, Watch, WatchRun
from integrations.base import StopAsk, TrackerError

log = logging.getLogger(__name__)
NOT_HERE = ":warning: That run is not tracked in this channel; nothing was changed."
GONE = ":warning: That run is no longer tracked; nothing was changed."
ENDED = ("finished", "failed", "killed")
REASON_BLOCK = "run_stop_reason:"  # block_id prefix of /ready stop's confirmation, carrying its reason


@dataclass
class Outcome:
    notice: str  # said to the clicker alone
    sent: bool = False  # a stop went out now (the channel message and the edit are queued)


@dataclass(frozen=True)
class Found:
    run_id: int
    ref: str
    name: str
    url: str | None
    experiment: str | None
    state: str
    conn: Connection
    trackers: tuple[str, ...]  # Slack users who tracked the run in this channel
    owner: str | None  # as the tracker names them


def stop(services: Services, run_id: int, user_id: str, team_id: str, channel_id: str, reason: str = "",
         message_ts: str | None = None) -> Outcome:
    """Stop run `run_id` as `user_id` clicking in (team_id, channel_id); `message_ts` is the
    clicked message, whose button becomes "Stop requested by"."""
    found = _find(services, run_id, team_id, channel_id)
    if isinstance(found, str):
        return Outcome(found)
    label = f"`{escape(found.conn.name)}:{escape(found.ref)}`"
    if not msg.stoppable(found.conn.kind):
        why = msg.CANNOT.get(found.conn.kind, "this tracker cannot be told to stop a run.")
        return Outcome(f":warning: Run {label} cannot be stopped from Slack: {why}")
    if (said := _already(services, run_id, channel_id, message_ts, label)) is not None:
        return said
    if found.state in ENDED:
        return Outcome(f":information_source: Run {label} has already ended ({found.state}); there is nothing to stop.")
    try:
        permissions.require_one_of(services, team_id, user_id, _who_may(services, found, team_id, user_id),
                                   f"stop run {label}", "who tracked or owns it")
    except Problem as refusal:
        return Outcome(f":warning: {refusal.message}")
    name = display_name(services, team_id, user_id)
    now = services.clock()
    reason = reason or msg.DEFAULT_REASON
    if not _claim(services, found, team_id, channel_id, user_id, name, reason, now):
        # Someone asked between our look and our insert: theirs is the one stop.
        return _already(services, run_id, channel_id, message_ts, label) or Outcome(GONE)
    try:
        _send(services, found, StopAsk(found.ref, requested_by=name, reason=reason, at=now))
    except TrackerError as exc:
        with services.store.tx() as s:
            s.execute(delete(StopRequest).where(StopRequest.run_id == run_id))
        log.warning("stop of run %s on %s failed: %s", run_id, found.conn.kind, exc)
        return Outcome(f":warning: {escape(found.conn.name)} did not take the stop of run {label}: {escape(str(exc))}. "
                       "Nothing was changed; try again.")
    with services.store.tx() as s:
        row = s.scalar(select(StopRequest).where(StopRequest.run_id == run_id))
        row.status, row.sent_at = "sent", services.clock()
        run = {"id": run_id, "ref": found.ref, "name": found.name, "url": found.url, "experiment": found.experiment}
        msg.announce(s, run_id=run_id, team_id=team_id, channel_id=channel_id, user_id=user_id, run=run,
                     connection=found.conn.name, kind=found.conn.kind, reason=reason, now=now)
        _edit_message(s, channel_id, message_ts, run_id, user_id, now)
    return Outcome(f":octagonal_sign: Stop of run {label} sent. {escape(msg.MEANS[found.conn.kind])}", sent=True)


def confirm_command(ctx: Ctx, cmd: Stop) -> Reply:
    """`/ready stop <ref>`: say what stopping means there, with the button that does it."""
    conn = resolve_connection(ctx, cmd.target, USAGE["stop"])
    label = f"`{escape(conn.name)}:{escape(cmd.target.ref)}`"
    with ctx.store.tx() as s:
        run = q.get_run(s, conn.id, cmd.target.ref)
        tracked = run is not None and _trackers(s, run.id, ctx.team_id, ctx.channel_id)
        run_id, name = (run.id, run.name or run.ref) if run is not None else (0, "")
    if not tracked:
        raise Problem(f"This channel is not tracking run {label}; only a run tracked here can be stopped.",
                      USAGE["stop"])
    if not msg.stoppable(conn.kind):
        raise Problem(f"Run {label} cannot be stopped from Slack: {msg.CANNOT.get(conn.kind, '')}")
    text = f"Stop run *{escape(name)}* ({label})? {escape(msg.MEANS[conn.kind])}"
    block_id = REASON_BLOCK + cmd.reason if cmd.reason else None
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}},
              actions(msg.stop_element(run_id, name, conn.kind), block_id=block_id)]
    return Reply(text, blocks=blocks)


def reason_of(block_id: str | None) -> str:
    return block_id.removeprefix(REASON_BLOCK) if block_id and block_id.startswith(REASON_BLOCK) else ""


def display_name(services: Services, team_id: str, user_id: str) -> str:
    """The name the tracker and the training code are told ("alice"), the id when Slack cannot say."""
    try:
        user = services.clients.for_team(team_id).users_info(user=user_id)["user"]
    except SlackApiError:
        return user_id
    profile = user.get("profile") or {}
    return str(profile.get("display_name") or user.get("real_name") or user.get("name") or user_id)[:200]


def _find(services: Services, run_id: int, team_id: str, channel_id: str) -> Found | str:
    with services.store.tx() as s:
        run = s.get(Run, run_id)
        conn = s.get(Connection, run.connection_id) if run is not None else None
        if run is None or conn is None:
            return GONE
        trackers = _trackers(s, run_id, team_id, channel_id)
        if conn.team_id != team_id or not trackers:
            return NOT_HERE
        s.expunge(conn)
        return Found(run.id, run.ref, run.name or run.ref, run.url, run.experiment, run.state, conn, tuple(trackers),
                     run.owner)


def _who_may(services: Services, found: Found, team_id: str, user_id: str) -> list[str]:
    """Who tracked the run here, and its owner when the clicker is not one of the first (finding
    the owner may ask Slack)."""
    if user_id in found.trackers:
        return list(found.trackers)
    owner = services.people.user_for(team_id, found.owner, (found.conn.name, found.conn.kind),
                                     services.clients.for_team(team_id))
    return [*found.trackers, *([owner] if owner else [])]


def _trackers(s, run_id: int, team_id: str, channel_id: str) -> list[str]:  # noqa: ANN001
    """Who set up the watches that bring the run to this channel (a run watch or an experiment's)."""
    return list(s.scalars(
        select(Watch.created_by).join(WatchRun, WatchRun.watch_id == Watch.id)
        .where(WatchRun.run_id == run_id, Watch.team_id == team_id, Watch.channel_id == channel_id)
    ))


def _already(services: Services, run_id: int, channel_id: str, message_ts: str | None, label: str) -> Outcome | None:
    """Someone asked already: say who and when, and let the clicked message show it too."""
    with services.store.tx() as s:
        row = s.scalar(select(StopRequest).where(StopRequest.run_id == run_id))
        if row is None:
            return None
        _edit_message(s, channel_id, message_ts, run_id, row.requested_by, services.clock())
        return Outcome(f":octagonal_sign: <@{row.requested_by}> already asked to stop run {label} "
                       f"({date_token(row.requested_at)}); the stop is sent once.")


def _claim(services: Services, found: Found, team_id: str, channel_id: str, user_id: str, name: str, reason: str,
           now) -> bool:  # noqa: ANN001
    """Store the request; False when another click stored one first (the unique run_id)."""
    try:
        with services.store.tx() as s:
            s.add(StopRequest(run_id=found.run_id, team_id=team_id, channel_id=channel_id, requested_by=user_id,
                              requested_by_name=name, reason=reason[:2000], status="sending", requested_at=now))
    except IntegrityError:
        return False
    return True


def _send(services: Services, found: Found, ask: StopAsk) -> None:
    if found.conn.kind == "push":
        return  # the stored row is the flag: bot/push.py answers the next push with it
    tracker = services.trackers(q.connection_info(found.conn, services.box))
    tracker.stop_run(ask)  # type: ignore[attr-defined] - STOPPABLE kinds implement integrations.base.Stoppable


def _edit_message(s, channel_id: str, message_ts: str | None, run_id: int, user_id: str, now) -> None:  # noqa: ANN001
    """The clicked message's Stop button becomes "Stop requested by @x" (an edit through the outbox)."""
    if not message_ts:
        return  # an ephemeral reply (/ready runs, /ready stop): not ours to edit later
    query = (select(Outbox).where(Outbox.channel_id == channel_id, Outbox.ts == message_ts, Outbox.op == "post")
             .with_for_update().execution_options(populate_existing=True))
    message = s.scalars(query).first()
    if message is None or str(run_id) in ((message.payload or {}).get("stops") or {}):
        return
    payload = dict(message.payload or {})
    payload["stops"] = {**(payload.get("stops") or {}), str(run_id): user_id}
    edit(s, message, payload, f"{message.dedupe_key}:stop:{run_id}", now)


def reason_for(services: Services, channel_id: str, message_ts: str | None) -> str:
    """What the clicked message was about ("reached its target"), as the stop's reason."""
    if not message_ts:
        return ""
    with services.store.tx() as s:
        template = s.scalar(select(Outbox.template).where(Outbox.channel_id == channel_id, Outbox.ts == message_ts))
    return msg.REASONS.get(template or "", "")
