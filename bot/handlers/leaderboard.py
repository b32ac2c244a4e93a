"""/ready leaderboard: the channel's best runs by a metric."""

from __future__ import annotations

from bot.commands import Leaderboard
from bot.commands.help import USAGE
from bot.core.leaderboard import MAX_ROWS, NoMetric, board, choose_metric, direction
from bot.handlers.base import Ctx, Problem, Reply
from bot.handlers.tracking import resolve_connection
from bot.notify.render import escape, render_text
from bot.store import leaderboard as lq

MAX_CHOICES = 15


def leaderboard(ctx: Ctx, cmd: Leaderboard) -> Reply:
    usage = USAGE["leaderboard"]
    experiment = None
    if cmd.scope is not None:
        conn = resolve_connection(ctx, cmd.scope, usage)
        experiment = (conn.id, cmd.scope.ref)
    with ctx.store.tx() as s:
        goals = lq.goals(s, ctx.team_id, ctx.channel_id)
        entries = lq.entries(s, ctx.team_id, ctx.channel_id, experiment)
    if not entries:
        where = f"of `{escape(str(cmd.scope))}` " if cmd.scope else ""
        raise Problem(f"No runs {where}are tracked in this channel yet. Try `/ready track &lt;conn&gt;:&lt;ref&gt;`.",
                      usage)
    try:
        metric = choose_metric(cmd.metric, list(goals))
    except NoMetric as exc:
        choices = list(exc.choices) or sorted({k for e in entries for k in e.metrics})
        names = ", ".join(f"`{escape(c)}`" for c in choices[:MAX_CHOICES]) or "none reported yet"
        more = f" and {len(choices) - MAX_CHOICES} more" if len(choices) > MAX_CHOICES else ""
        why = "the channel has targets on several metrics" if exc.choices else "the channel has no target"
        raise Problem(f"Which metric? {why}; choose one of {names}{more}, e.g. "
                      f"`/ready leaderboard {escape(choices[0]) if choices else 'val_acc'}`.", usage) from None
    shown = board(entries, metric, direction(metric, goals, cmd.direction), goals.get(metric), MAX_ROWS)
    title = f"*Leaderboard{' of ' + escape(str(cmd.scope)) if cmd.scope else ''}*"
    return Reply(title + "\n" + render_text("partials/leaderboard", board=shown))

