"""Who may change what (issue 12): whoever set something up, or a workspace admin or owner, may
remove or stop it (remove a target, cancel or postpone a review, untrack a run, turn off a
standup or a digest); anyone else is told who can. Every such handler calls `require`, so an
action added later (a Stop button on a run) gets the same rule by calling it too.

Admin and owner come from users.info (`is_admin`, `is_owner`;
https://api.slack.com/methods/users.info), asked with the team's own token and kept a few
minutes per process: a click should not wait on Slack each time, and a revoked admin loses the
right within minutes. Ask before opening a transaction: a slow Slack call must not hold locks.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import timedelta

from slack_sdk.errors import SlackApiError

from bot.handlers.base import Problem
from bot.services import Services

log = logging.getLogger(__name__)
ADMIN_TTL = timedelta(minutes=5)
_USER_ID = re.compile(r"[UW][A-Z0-9]+")  # a Slack user, not "readybot" or an empty legacy value


def may_change(services: Services, team_id: str, user_id: str, created_by: str | None) -> bool:
    if user_id and user_id == created_by:
        return True
    return is_admin(services, team_id, user_id)


def require(services: Services, team_id: str, user_id: str, created_by: str | None, what: str) -> None:
    """Raise the refusal naming who can `what` (e.g. "remove target #3") unless `user_id` may."""
    require_one_of(services, team_id, user_id, [created_by or ""], what, "who set it")


def require_one_of(services: Services, team_id: str, user_id: str, allowed: Sequence[str], what: str,
                   role: str) -> None:
    """As `require`, for something several people may act on (a run: whoever tracked it in the
    channel); `role` says why they may ("who tracked it")."""
    if user_id and user_id in allowed:
        return
    if is_admin(services, team_id, user_id):
        return
    people = [f"<@{u}>" for u in dict.fromkeys(allowed) if _USER_ID.fullmatch(u or "")]
    who = f"{' or '.join(people)} {role}, or a workspace admin," if people else "a workspace admin"
    raise Problem(f"Only {who} can {what}. Nothing was changed.")


def is_admin(services: Services, team_id: str, user_id: str) -> bool:
    """users.info says admin or owner; False when Slack cannot say (the safe answer), not cached."""
    if not user_id:
        return False
    now = services.clock()
    cached = services.admins.get((team_id, user_id))
    if cached is not None and now - cached[0] < ADMIN_TTL:
        return cached[1]
    try:
        user = services.clients.for_team(team_id).users_info(user=user_id)["user"]
    except SlackApiError as exc:
        log.warning("users.info %s failed: %s; treated as not an admin", user_id, exc.response.get("error"))
        return False
    admin = bool(user.get("is_admin") or user.get("is_owner")) and not user.get("deleted")
    services.admins[(team_id, user_id)] = (now, admin)
    return admin
