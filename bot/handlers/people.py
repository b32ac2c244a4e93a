"""/ready me: claim the tracker usernames that are you, and choose whether alerts mention you.

A claim is the team's: once `prod:alice` is claimed, runs whose owner the `prod` connection names
"alice" are that person's everywhere in the team (bot/people.py shows them). So a username is
claimed once; only its claimant or a workspace admin may remove it.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.commands import Me, MeClaim, MeMentions, MeRemove
from bot.commands.help import USAGE
from bot.core.owners import tracker_key, username_key
from bot.core.words import plural
from bot.handlers import permissions
from bot.handlers.base import Ctx, Problem, Reply
from bot.notify.render import escape
from bot.store import people as q
from bot.store import runs as runs_q
from bot.store.models import Connection, Run
from integrations.issues import ISSUE_KINDS
from integrations.registry import KINDS

RUN_KINDS = tuple(KINDS)  # the kinds whose runs have owners (not jira, github)


def show_me(ctx: Ctx, _cmd: Me) -> Reply:
    with ctx.store.tx() as s:
        claims = [f"`{escape(c.tracker)}:{escape(c.username)}`" for c in q.identities_of(s, ctx.team_id, ctx.user_id)]
        mentions = q.wants_mentions(s, ctx.team_id, ctx.user_id)
    setting = ("Alerts about your runs mention you (`/ready me mentions off` to be named without a notification)."
               if mentions else "Alerts name you without mentioning you (`/ready me mentions on` to be notified).")
    if not claims:
        return Reply("You have not claimed a tracker username yet. Runs whose tracker names you by your Slack "
                     "email are found by themselves; for the others, claim your username, as in "
                     f"`/ready me mlflow:alice`. {setting}")
    return Reply(f"You are {', '.join(claims)}. {setting}")


def claim(ctx: Ctx, cmd: MeClaim) -> Reply:
    label = f"`{escape(cmd.tracker)}:{escape(cmd.username)}`"
    with ctx.store.tx() as s:
        _check_tracker(s, ctx.team_id, cmd.tracker)
        existing = q.find_claim(s, ctx.team_id, cmd.tracker, cmd.username)
        if existing is not None and existing.user_id == ctx.user_id:
            return Reply(f":information_source: You already are {label}. Nothing was changed.")
        if existing is not None:
            raise Problem(f"{label} is already claimed by <@{existing.user_id}>. They or a workspace admin can "
                          f"remove it with `/ready me remove {escape(cmd.tracker)}:{escape(cmd.username)}`. "
                          "Nothing was changed.")
        if len(q.identities_of(s, ctx.team_id, ctx.user_id)) >= q.MAX_CLAIMS:
            raise Problem(f"You have claimed {q.MAX_CLAIMS} usernames, the most one person may; remove one with "
                          "`/ready me remove &lt;tracker&gt;:&lt;username&gt;` first.", USAGE["me"])
        try:
            q.add_claim(s, ctx.team_id, cmd.tracker, cmd.username, ctx.user_id, ctx.now)
        except IntegrityError:
            raise Problem(f"{label} was claimed by someone else a moment ago; `/ready me` shows yours.") from None
        owned = _runs_named(s, ctx.team_id, cmd.tracker, cmd.username)
        mentions = q.wants_mentions(s, ctx.team_id, ctx.user_id)
    found = f" {plural(owned, 'tracked run')} already {'names' if owned == 1 else 'name'} that owner." if owned else ""
    how = ("and failed, stalled and diverged alerts mention you" if mentions
           else "by your name, without mentioning you (mentions are off)")
    return Reply(f":bust_in_silhouette: You are {label}: runs whose owner is {escape(cmd.username)} on "
                 f"{escape(cmd.tracker)} show you as their owner, {how}.{found}")


def remove(ctx: Ctx, cmd: MeRemove) -> Reply:
    label = f"`{escape(cmd.tracker)}:{escape(cmd.username)}`"
    with ctx.store.tx() as s:
        existing = q.find_claim(s, ctx.team_id, cmd.tracker, cmd.username)
        claimant = existing.user_id if existing else None
    if claimant is None:
        raise Problem(f"Nobody has claimed {label}; `/ready me` lists yours. Nothing was changed.", USAGE["me"])
    # Asked outside a transaction: users.info (is this an admin?) must not hold locks.
    permissions.require(ctx.services, ctx.team_id, ctx.user_id, claimant, f"remove the claim on {label}")
    with ctx.store.tx() as s:
        existing = q.find_claim(s, ctx.team_id, cmd.tracker, cmd.username)
        if existing is None or existing.user_id != claimant:
            raise Problem(f"The claim on {label} changed meanwhile; `/ready me` shows yours. Nothing was changed.")
        q.remove_claim(s, existing)
    whose = "" if claimant == ctx.user_id else f" (it was <@{claimant}>'s)"
    return Reply(f":wastebasket: Removed the claim on {label}{whose}: its runs no longer show an owner from it.")


def mentions(ctx: Ctx, cmd: MeMentions) -> Reply:
    with ctx.store.tx() as s:
        q.set_mentions(s, ctx.team_id, ctx.user_id, cmd.on, ctx.now)
    if cmd.on:
        return Reply(":bell: Mentions on: alerts about your runs mention you, and failed, stalled and diverged "
                     "ones notify you.")
    return Reply(":no_bell: Mentions off: alerts about your runs show your name without notifying you.")


def _check_tracker(s, team_id: str, tracker: str) -> None:  # noqa: ANN001
    names = [c.name for c in runs_q.team_connections(s, team_id) if c.kind not in ISSUE_KINDS]
    if tracker_key(tracker) in {tracker_key(n) for n in names} | set(RUN_KINDS):
        return
    known = ", ".join(f"`{escape(n)}`" for n in names) or "none yet"
    raise Problem(f"`{escape(tracker)}` is neither a connection here (connections: {known}) nor a tracker kind "
                  f"({', '.join(RUN_KINDS)}). Nothing was changed.", USAGE["me"])


def _runs_named(s, team_id: str, tracker: str, username: str) -> int:  # noqa: ANN001
    """How many of the team's runs on that tracker name this owner (what the claim changes now)."""
    key = tracker_key(tracker)
    return s.scalar(select(func.count(Run.id)).join(Connection, Connection.id == Run.connection_id)
                    .where(Connection.team_id == team_id,
                           (func.lower(Connection.name) == key) | (Connection.kind == key),
                           func.lower(Run.owner) == username_key(username))) or 0
