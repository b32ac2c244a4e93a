"""/ready track, untrack and runs."""

from __future__ import annotations

import functools
import json

from sqlalchemy import delete, select

from bot.commands import RunRef, Runs, Track, Untrack
from bot.commands.help import USAGE
from bot.commands.types import RUNS_PER_PAGE
from bot.core.eta import format_duration, has_eta, progress_fraction, stalled_for
from bot.core.runs import staleness
from bot.core.words import plural
from bot.handlers import permissions
from bot.handlers.base import Ctx, Problem, Reply
from bot.jobs import forecasts
from bot.notify import run_stop
from bot.notify.blockkit import char_limit
from bot.notify.render import date_token, escape, link
from bot.store import runs as q
from bot.store.models import Connection, Run, Watch, WatchRun
from integrations.base import RunSnapshot, RunState, TrackerError
from integrations.issues import ISSUE_KINDS

SECTION_CHARS = char_limit("section", "text.text")

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
        summary = [_run_line(run, conn.name, now) for run in runs[:10]]
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


def runs(ctx: Ctx, cmd: Runs) -> Reply:
    now = ctx.now
    with ctx.store.read() as s:
        page = q.channel_run_page(s, ctx.team_id, ctx.channel_id, RUNS_PER_PAGE, (cmd.page - 1) * RUNS_PER_PAGE)
        stops = {run.id: run.stop_requested_by for run in page.runs if run.stop_requested_by is not None}
        projections = _forecast_lines(ctx, s, page, now)
    if not page.total:
        return Reply("No runs are tracked in this channel yet. Try `/ready track &lt;conn&gt;:&lt;run-id&gt;`.")
    pages = -(-page.total // RUNS_PER_PAGE)
    if not page.runs:
        raise Problem(f"There is no page {cmd.page}: this channel tracks {plural(page.total, 'run')}, "
                      f"{plural(pages, 'page')} of {RUNS_PER_PAGE}.", USAGE["runs"])
    head = f"*Runs tracked here ({page.total})*"
    lines = [" · ".join(filter(None, [_run_line(run, run.connection, now), projections.get(run.id)]))
             + (f" · :octagonal_sign: stop requested by <@{stops[run.id]}>" if run.id in stops else "")
             for run in page.runs]
    more = ""
    if pages > 1:
        first = (cmd.page - 1) * RUNS_PER_PAGE + 1
        more = f"Showing {first}–{first + len(page.runs) - 1} of {page.total}"
        more += f" — `/ready runs page {cmd.page + 1}` for more." if cmd.page < pages else "."
    text = "\n".join([head, *lines, *([more] if more else [])])
    # One section per run, so each can carry its Stop button (at most 1 + 40 + 1 of Slack's 50 blocks).
    sections = [_kept_section(head, None)]
    sections += [_kept_section(line, _stop_offer(run, stops)) for line, run in zip(lines, page.runs, strict=True)]
    sections += [_kept_section(more, None)] if more else []
    return Reply(text, blocks=[block for block, _ in sections], encoded_blocks=[text for _, text in sections])


def _forecast_lines(ctx: Ctx, s, page: q.RunPage, now) -> dict[int, str]:  # noqa: ANN001
    """run id -> where the run is heading against this channel's target on it: only for running
    runs, and only when the channel has a target at all (most listings then cost no fit)."""
    running = [run.id for run in page.runs if run.state == "running"]
    if not running or not page.has_targets:
        return {}
    return forecasts.listing_lines(s, ctx.services.fits, ctx.team_id, ctx.channel_id, running, now)


def _stop_offer(run: q.ListedRun, stops: dict[int, str]) -> tuple[int, str, str] | None:
    """What the Stop button of a run still training, not yet asked to stop, is made of; None
    for a run that has ended or was asked. (The tracker may still be one that cannot stop it.)"""
    if run.state in ("finished", "failed", "killed") or run.id in stops:
        return None
    return run.id, run.name or run.ref, run.kind


@functools.lru_cache(maxsize=4096)
def _kept_section(text: str, stop: tuple[int, str, str] | None) -> tuple[dict, str]:
    """A listing's section and its JSON. The same sections go out on every listing: building
    and encoding them each time was a fifth of its Python. Kept under what they show (the line,
    and the Stop button's run, label and tracker kind), and shared by the replies that show them,
    which only ever serialize them (4096 of a few hundred bytes: 40 runs in 100 channels)."""
    block = _section(text, run_stop.offer({}, *stop) if stop else None)
    return block, json.dumps(block)


def _section(text: str, accessory: dict | None = None) -> dict:
    block: dict = {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_CHARS]}}
    if accessory:
        block["accessory"] = accessory
    return block


STATE_ICONS = {
    "queued": ":double_vertical_bar:",
    "running": ":arrow_forward:",
    "finished": ":white_check_mark:",
    "failed": ":x:",
    "killed": ":octagonal_sign:",
    "stalled": ":hourglass:",
    "unknown": ":grey_question:",
}


def _run_line(run: Run | q.ListedRun, connection: str, now) -> str:  # noqa: ANN001
    """One run in a listing: a stored run, or a ListedRun read for `/ready runs` (same fields).

    The same runs are listed again and again, and their lines were a sixth of `/ready runs`'
    Python: a line is kept under everything it shows (_shown, and the times _clock counts from
    `now`), so a run whose state, step, metrics or anything else shown changed makes a new key."""
    shown, clock = _shown(run, connection), _clock(run, now)
    try:
        return _kept_line(shown, clock)
    except TypeError:  # a metric value that cannot be a key (a list or object a tracker logged)
        return _line_text(shown, clock)


def _shown(run: Run | q.ListedRun, connection: str) -> tuple:
    """What a run's line shows that does not move with the clock, in _line_text's order."""
    # Each value with its type: 1, 1.0 and True are equal keys, and format differently.
    metrics = tuple((k, v, type(v)) for k, v in list((run.metrics or {}).items())[:3])
    return (run.state, run.url, run.name or run.ref, connection, run.step, run.total_steps,
            run.eta if run.eta and has_eta(run.state) else None, metrics,
            run.last_error if run.state == "unknown" else None, run.missing_since)


def _clock(run: Run | q.ListedRun, now) -> tuple[str | None, str | None, str | None]:  # noqa: ANN001
    """The parts of a line counted from now: how long a stalled run has been still, the time
    left to its ETA, and how old data from a tracker that is not answering is."""
    stalled = stalled_for(now, run.heartbeat_at, run.progress_at) if run.state == "stalled" else None
    left = None
    if run.eta and has_eta(run.state):
        left = f"in {format_duration(run.eta - now)}" if run.eta > now else "now"
    stale = staleness(run.polled_at, run.stale_since, now)
    return stalled, left, None if stale is None else format_duration(stale)


def _line_text(shown: tuple, clock: tuple[str | None, str | None, str | None]) -> str:
    state, url, label, connection, step, total_steps, eta, metrics, error, missing_since = shown
    stalled, left, stale = clock
    parts = [f"{STATE_ICONS.get(state, '')} {link(url, label)} `{connection}` {stalled or state}"]
    frac = progress_fraction(step, total_steps)
    if step is not None:
        parts.append(f"step {step}" + (f"/{total_steps} ({frac:.0%})" if frac is not None else ""))
    if eta is not None:
        # A date token: each reader sees the time in their own zone.
        parts.append(f"ETA {date_token(eta)} ({left})" if left != "now" else "ETA now")
    if metrics:
        parts.append(", ".join([f"{escape(k)}={_fmt(v)}" for k, v, _ in metrics]))
    if error:
        parts.append(escape(error))
    elif missing_since is not None:  # absent from the tracker's answers, not yet confirmed gone
        parts.append(f":grey_question: not listed by `{connection}` since {date_token(missing_since)} (checking again)")
    if stale is not None:
        parts.append(f":warning: data {stale} old (tracker not answering)")
    return " · ".join(parts)


# 4096 lines of a few hundred characters: 40 listed runs in 100 channels.
_kept_line = functools.lru_cache(maxsize=4096)(_line_text)


def _fmt(value: object) -> str:
    from bot.notify.render import format_number

    return format_number(float(value)) if isinstance(value, int | float) else escape(value)
