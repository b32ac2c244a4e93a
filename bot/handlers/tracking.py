"""/ready track, untrack and runs."""

from __future__ import annotations

from sqlalchemy import delete, select

from bot.commands import RunRef, Runs, Track, Untrack
from bot.commands.help import USAGE
from bot.core.eta import format_duration, has_eta, progress_fraction, stalled_for
from bot.core.runs import staleness
from bot.core.words import plural
from bot.handlers import permissions
from bot.handlers.base import Ctx, Problem, Reply
from bot.jobs import forecasts
from bot.notify.render import date_token, escape, link
from bot.store import runs as q
from bot.store.models import Connection, Run, Watch, WatchRun
from integrations.base import RunSnapshot, RunState, TrackerError
from integrations.issues import ISSUE_KINDS

MAX_LISTED = 40  # /ready runs rows before it summarises


def resolve_connection(ctx: Ctx, ref: RunRef, usage: str) -> Connection:
    """The experiment tracker a run reference means; Jira and GitHub hold issues, never runs."""
    with ctx.store.tx() as s:
        conns = [c for c in q.team_connections(s, ctx.team_id) if c.kind not in ISSUE_KINDS]
        if ref.conn:
            conn = q.find_connection(s, ctx.team_id, ref.conn)
            names = ", ".join(f"`{c.name}`" for c in conns) or "none yet"
            if conn is None:
                raise Problem(f"No connection named `{ref.conn}` (connections: {names}).", usage)
            if conn.kind in ISSUE_KINDS:
                raise Problem(f"`{conn.name}` is a {conn.kind} connection, for issue links in standups; "
                              f"runs come from a tracker (connections: {names}).", usage)
            return conn
    if len(conns) == 1:
        return conns[0]
    if not conns:
        raise Problem("No tracker is connected yet: start with `/ready connect`.", USAGE["connect"])
    raise Problem("Several trackers are connected: write the ref as `&lt;connection&gt;:&lt;run-id&gt;`.", usage)


def track(ctx: Ctx, cmd: Track) -> Reply:
    usage = USAGE["track"]
    conn = resolve_connection(ctx, cmd.target, usage)
    ref = cmd.target.ref
    if conn.kind == "push":
        snaps = [RunSnapshot(ref=ref, state=RunState.QUEUED, name=ref)]
    else:
        snaps = _ask_tracker(ctx, conn, cmd.target)
    now = ctx.now
    with ctx.store.tx() as s:
        watch = s.scalar(
            select(Watch).where(
                Watch.team_id == ctx.team_id,
                Watch.channel_id == ctx.channel_id,
                Watch.connection_id == conn.id,
                Watch.ref == ref,
                Watch.is_experiment.is_(cmd.target.experiment),
            )
        )
        already = watch is not None
        if watch is None:
            watch = Watch(
                team_id=ctx.team_id,
                channel_id=ctx.channel_id,
                connection_id=conn.id,
                ref=ref,
                is_experiment=cmd.target.experiment,
                total_steps=cmd.total_steps,
                created_by=ctx.user_id,
                created_at=now,
                last_listed_at=now if cmd.target.experiment else None,
            )
            s.add(watch)
            s.flush()
        runs = []
        for snap in snaps:
            run, _ = q.ensure_run(s, conn.id, snap, now)
            if cmd.total_steps and not cmd.target.experiment:
                run.total_steps_override = cmd.total_steps
                run.total_steps = cmd.total_steps
            run.active = not RunState(run.state).is_terminal
            q.link(s, watch, run)
            runs.append(run)
        summary = [_run_line(run, conn, now) for run in runs[:10]]
    label = f"experiment *{escape(ref)}*" if cmd.target.experiment else f"run *{escape(ref)}*"
    head = "Already tracking" if already else "Now tracking"
    text = f":eyes: {head} {label} on *{conn.name}* in this channel."
    if cmd.target.experiment:
        text += f" {plural(len(runs), 'run')} so far; new runs are picked up as they start."
    if summary:
        text += "\n" + "\n".join(summary)
    return Reply(text)


def _ask_tracker(ctx: Ctx, conn: Connection, target: RunRef) -> list[RunSnapshot]:
    tracker = ctx.services.trackers(q.connection_info(conn, ctx.services.box))
    try:
        if target.experiment:
            return tracker.list_runs(target.ref)
        snaps = tracker.fetch_runs([target.ref])
    except TrackerError as exc:
        if exc.permanent:
            raise Problem(f"{conn.name} says: {exc}. Nothing was tracked.") from None
        raise Problem(f"{conn.name} is not answering right now ({exc}). Nothing was tracked; try again.") from None
    if target.ref not in snaps:
        raise Problem(f"{conn.name} has no run `{target.ref}`. Nothing was tracked.", USAGE["track"])
    return [snaps[target.ref]]


def untrack(ctx: Ctx, cmd: Untrack) -> Reply:
    conn = resolve_connection(ctx, cmd.target, USAGE["untrack"])
    with ctx.store.tx() as s:
        watch = s.scalar(
            select(Watch).where(
                Watch.team_id == ctx.team_id,
                Watch.channel_id == ctx.channel_id,
                Watch.connection_id == conn.id,
                Watch.ref == cmd.target.ref,
                Watch.is_experiment.is_(cmd.target.experiment),
            )
        )
        if watch is None:
            raise Problem(_not_tracked(s, ctx, conn, cmd.target), USAGE["untrack"])
        watch_id, created_by = watch.id, watch.created_by
    shown = escape(str(cmd.target))
    permissions.require(ctx.services, ctx.team_id, ctx.user_id, created_by, f"stop tracking `{shown}` here")
    with ctx.store.tx() as s:
        s.execute(delete(WatchRun).where(WatchRun.watch_id == watch_id))
        s.execute(delete(Watch).where(Watch.id == watch_id))
    return Reply(f":see_no_evil: Stopped tracking `{escape(str(cmd.target))}` in this channel.")


def _not_tracked(s, ctx: Ctx, conn: Connection, target: RunRef) -> str:  # noqa: ANN001
    """Why there is nothing to untrack; a run that comes with an experiment watch says which."""
    through = s.scalars(
        select(Watch.ref)
        .join(WatchRun, WatchRun.watch_id == Watch.id)
        .join(Run, Run.id == WatchRun.run_id)
        .where(Watch.team_id == ctx.team_id, Watch.channel_id == ctx.channel_id, Watch.is_experiment.is_(True),
               Run.connection_id == conn.id, Run.ref == target.ref)
    ).first()
    if through and not target.experiment:
        experiment = RunRef(conn.name, through, True)
        return (f"`{escape(str(target))}` is tracked here as part of experiment `{escape(through)}`; "
                f"stop that with `/ready untrack {escape(str(experiment))}`.")
    return f"This channel is not tracking `{escape(str(target))}`."


def runs(ctx: Ctx, _cmd: Runs) -> Reply:
    now = ctx.now
    with ctx.store.tx() as s:
        rows = q.channel_runs(s, ctx.team_id, ctx.channel_id)
        lines = [" · ".join(filter(None, [_run_line(run, conn, now), forecasts.run_line(s, run, ctx.team_id, ctx.channel_id, now)]))
                 for run, conn in rows[:MAX_LISTED]]
    if not rows:
        return Reply("No runs are tracked in this channel yet. Try `/ready track &lt;conn&gt;:&lt;run-id&gt;`.")
    text = f"*Runs tracked here ({len(rows)})*\n" + "\n".join(lines)
    if len(rows) > MAX_LISTED:
        text += f"\n…and {len(rows) - MAX_LISTED} more."
    return Reply(text)


STATE_ICONS = {
    "queued": ":double_vertical_bar:",
    "running": ":arrow_forward:",
    "finished": ":white_check_mark:",
    "failed": ":x:",
    "killed": ":octagonal_sign:",
    "stalled": ":hourglass:",
    "unknown": ":grey_question:",
}


def _run_line(run: Run, conn: Connection, now) -> str:  # noqa: ANN001
    state = run.state
    if state == "stalled":  # instead of an ETA: a run that is not moving has none
        state = stalled_for(now, run.heartbeat_at, run.progress_at)
    parts = [f"{STATE_ICONS.get(run.state, '')} {link(run.url, run.name or run.ref)} `{conn.name}` {state}"]
    frac = progress_fraction(run.step, run.total_steps)
    if run.step is not None:
        parts.append(f"step {run.step}" + (f"/{run.total_steps} ({frac:.0%})" if frac is not None else ""))
    if run.eta and has_eta(run.state):
        # A date token: each reader sees the time in their own zone.
        parts.append(f"ETA {date_token(run.eta)} (in {format_duration(run.eta - now)})" if run.eta > now else "ETA now")
    metrics = list((run.metrics or {}).items())[:3]
    if metrics:
        parts.append(", ".join(f"{escape(k)}={_fmt(v)}" for k, v in metrics))
    if run.state == "unknown" and run.last_error:
        parts.append(escape(run.last_error))
    elif run.missing_since is not None:  # absent from the tracker's answers, not yet confirmed gone
        parts.append(f":grey_question: not listed by `{conn.name}` since {date_token(run.missing_since)} (checking again)")
    stale = staleness(run.polled_at, run.stale_since, now)
    if stale is not None:
        parts.append(f":warning: data {format_duration(stale)} old (tracker not answering)")
    return " · ".join(parts)


def _fmt(value: object) -> str:
    from bot.notify.render import format_number

    return format_number(float(value)) if isinstance(value, int | float) else escape(value)
