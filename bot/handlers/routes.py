"""Command type -> handler. `slow` handlers call trackers and answer via response_url."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot import commands as c
from bot.commands.help import help_text
from bot.handlers import connections, decisions, leaderboard, people, run_stop, targets, tracking
from bot.handlers import decision_edits as decision_edit
from bot.handlers import reviews as review_handlers
from bot.handlers import schedules as sched
from bot.handlers.base import Ctx, Reply

Handler = Callable[[Ctx, Any], Reply]


def show_help(_ctx: Ctx, cmd: c.Help) -> Reply:
    return Reply(help_text(cmd.topic))


def not_yet(_ctx: Ctx, cmd: Any) -> Reply:
    return Reply(f":construction: `{type(cmd).__name__}` is not available in this version of readybot yet.")


ROUTES: dict[type, tuple[Handler, bool]] = {
    c.Help: (show_help, False),
    c.Connect: (connections.connect, True),
    c.ConnectModal: (connections.connect_modal, False),
    c.Track: (tracking.track, True),
    c.Untrack: (tracking.untrack, False),
    c.Runs: (tracking.runs, False),
    c.Stop: (run_stop.confirm_command, False),
    c.ReviewAdd: (review_handlers.add, True),  # may track runs: asks their tracker
    c.ReviewModal: (review_handlers.open_modal, False),
    c.ReviewList: (review_handlers.list_reviews, False),
    c.ReviewCancel: (review_handlers.cancel, False),
    c.Leaderboard: (leaderboard.leaderboard, False),
    c.DecisionList: (decisions.list_decisions, True),  # asks Slack for the messages' permalinks
    c.DecisionEdit: (decision_edit.open_edit, False),  # opens a form: the trigger id lasts 3 s
    c.DecisionRemove: (decision_edit.remove, False),
    c.Me: (people.show_me, False),
    c.MeClaim: (people.claim, False),
    c.MeRemove: (people.remove, False),
    c.MeMentions: (people.mentions, False),
    c.TargetAdd: (targets.add, False),
    c.TargetList: (targets.list_targets, False),
    c.TargetRemove: (targets.remove, False),
    c.StandupAt: (sched.standup_at, True),
    c.StandupNow: (sched.standup_now, True),
    c.StandupOff: (sched.standup_off, False),
    c.DigestAt: (sched.digest_at, True),
    c.DigestNow: (sched.digest_now, True),
    c.DigestOff: (sched.digest_off, False),
}


def route(cmd: Any) -> tuple[Handler, bool]:
    return ROUTES.get(type(cmd), (not_yet, False))
