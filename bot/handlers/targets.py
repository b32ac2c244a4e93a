"""/ready target, /ready targets and /ready target remove.

A target belongs to the channel that set it. Its scope is every run tracked in that channel, or
one run or experiment the channel tracks; the poller evaluates it (bot.jobs.targets).
"""

from __future__ import annotations

from sqlalchemy import delete, select

from bot.commands import RunRef, TargetAdd, TargetList, TargetRemove
from bot.commands.help import USAGE
from bot.core.targets import Rule
from bot.handlers import permissions
from bot.handlers.base import Ctx, Problem, Reply
from bot.handlers.tracking import resolve_connection
from bot.notify.render import escape, format_number
from bot.store import targets as store
from bot.store.models import Connection, Run, Target, Watch, WatchRun

# The target usage is two lines; a refusal shows the line it is about.
ADD_USAGE, REMOVE_USAGE = USAGE["target"].splitlines()
EXAMPLE = "/ready target val_acc >= 0.9 for 2 evals"


def add(ctx: Ctx, cmd: TargetAdd) -> Reply:
    try:
        rule = Rule(cmd.metric, cmd.op, cmd.value, cmd.patience)
    except ValueError as exc:  # the parser already checks; this keeps the core's word final
        raise Problem(str(exc), ADD_USAGE) from None
    conn = None
    if cmd.scope is not None:
        conn = resolve_connection(ctx, cmd.scope, ADD_USAGE)
        _require_tracked(ctx, conn, cmd.scope)
    with ctx.store.tx() as s:
        same = _same_target(s, ctx, cmd, conn)
        if same is not None:
            raise Problem(f"Target #{same.id} in this channel already says that; see `/ready targets`.")
        target = Target(
            team_id=ctx.team_id,
            channel_id=ctx.channel_id,
            metric=cmd.metric,
            op=cmd.op,
            threshold=cmd.value,
            patience=cmd.patience,
            scope_connection_id=conn.id if conn else None,
            scope_ref=cmd.scope.ref if cmd.scope else None,
            scope_is_experiment=bool(cmd.scope and cmd.scope.experiment),
            created_by=ctx.user_id,
            created_at=ctx.now,
        )
        s.add(target)
        s.flush()
        scope = _scope_text(target, conn.name if conn else None)
    return Reply(
        f":dart: Target *#{target.id}* set: `{escape(rule.describe())}` on {scope}.\n"
        "I'll post here once when a run reaches it, with a chart of the metric."
    )


def _require_tracked(ctx: Ctx, conn: Connection, ref: RunRef) -> None:
    """A target on a run or experiment this channel does not track would never hear of it."""
    with ctx.store.tx() as s:
        if ref.experiment:
            query = select(Watch.id).where(
                Watch.team_id == ctx.team_id,
                Watch.channel_id == ctx.channel_id,
                Watch.connection_id == conn.id,
                Watch.ref == ref.ref,
                Watch.is_experiment.is_(True),
            )
        else:
            query = (
                select(Run.id)
                .join(WatchRun, WatchRun.run_id == Run.id)
                .join(Watch, Watch.id == WatchRun.watch_id)
                .where(Run.connection_id == conn.id, Run.ref == ref.ref, Watch.team_id == ctx.team_id,
                       Watch.channel_id == ctx.channel_id)
            )
        if s.scalars(query).first() is None:
            shown = escape(f"{conn.name}:{RunRef(None, ref.ref, ref.experiment)}")
            raise Problem(f"This channel does not track `{shown}`: `/ready track {shown}` first, then set the target.")


def _same_target(s, ctx: Ctx, cmd: TargetAdd, conn: Connection | None) -> Target | None:  # noqa: ANN001
    query = select(Target).where(
        Target.team_id == ctx.team_id,
        Target.channel_id == ctx.channel_id,
        Target.metric == cmd.metric,
        Target.op == cmd.op,
        Target.threshold == cmd.value,
        Target.patience == cmd.patience,
        Target.scope_connection_id.is_(None) if conn is None else Target.scope_connection_id == conn.id,
    )
    if cmd.scope is not None:
        query = query.where(Target.scope_ref == cmd.scope.ref, Target.scope_is_experiment.is_(cmd.scope.experiment))
    return s.scalars(query).first()


def list_targets(ctx: Ctx, _cmd: TargetList) -> Reply:
    with ctx.store.tx() as s:
        targets = store.channel_targets(s, ctx.team_id, ctx.channel_id)
        names = dict(s.execute(select(Connection.id, Connection.name).where(Connection.team_id == ctx.team_id)).all())
        latest = store.latest_alerts(s, [t.id for t in targets])
        mutes = store.run_mutes(s, [t.id for t in targets])
        lines = [_target_line(t, names.get(t.scope_connection_id), latest.get(t.id), mutes.get(t.id, []))
                 for t in targets]
    if not targets:
        return Reply(f"No targets in this channel yet. Set one, e.g. `{EXAMPLE}`.")
    return Reply(f"*Targets in this channel ({len(targets)})*\n" + "\n".join(lines))


def _target_line(target: Target, conn_name: str | None, latest, mutes: list[tuple[str, str]]) -> str:  # noqa: ANN001
    parts = [f"*#{target.id}* `{escape(store.rule_of(target).describe())}`", _scope_text(target, conn_name)]
    if target.muted_by:
        parts.append(f":no_bell: muted by <@{escape(target.muted_by)}>")
    # Undone with the Unmute button on the run's "unlikely to reach" message.
    parts += [f":no_bell: muted for run `{escape(ref)}` by <@{escape(who)}>" for ref, who in mutes]
    if latest is not None:
        alert, run = latest
        parts.append(f"last reached by *{escape(run.name or run.ref)}* ({format_number(alert.value)} at step {alert.step})")
    else:
        parts.append("not reached yet")
    return " · ".join(parts)


def _scope_text(target: Target, conn_name: str | None) -> str:
    if target.scope_ref is None:
        return "every run tracked in this channel"
    ref = RunRef(conn_name, target.scope_ref, target.scope_is_experiment)
    return f"{'experiment' if target.scope_is_experiment else 'run'} `{escape(str(ref))}`"


def remove(ctx: Ctx, cmd: TargetRemove) -> Reply:
    here = (Target.id == cmd.id, Target.team_id == ctx.team_id, Target.channel_id == ctx.channel_id)
    with ctx.store.tx() as s:
        target = s.scalar(select(Target).where(*here))
        if target is None:
            raise Problem(f"There is no target #{cmd.id} in this channel; see `/ready targets`.", REMOVE_USAGE)
        described, created_by = store.rule_of(target).describe(), target.created_by
    permissions.require(ctx.services, ctx.team_id, ctx.user_id, created_by, f"remove target #{cmd.id}")
    with ctx.store.tx() as s:
        # Progress and alerts go with it (ON DELETE CASCADE); old alert buttons then say so.
        if not s.execute(delete(Target).where(*here)).rowcount:
            raise Problem(f"Target #{cmd.id} was just removed.")
    return Reply(f":wastebasket: Removed target #{cmd.id} (`{escape(described)}`).")
