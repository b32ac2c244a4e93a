"""Run owners as people: just before a message is sent, each run's tracker owner becomes the
Slack user it names, where one can be found, in this order:

1. a `/ready me <tracker>:<username>` claim of that username, for the run's connection name or kind;
2. an owner that is a Slack user id (a pushed run may send one), confirmed by users.info;
3. an owner that is an email, through users.lookupByEmail (needs the `users:read.email` scope;
   https://api.slack.com/methods/users.lookupByEmail);
4. otherwise the tracker's own name for them, as plain text.

A found person is shown as a mention, unless they turned mentions off (`/ready me mentions off`):
then by their Slack display name. An unconfirmed id or a placeholder owner shows no owner at all.
Lookups are kept in memory for a while (a person rarely changes email), and a failed lookup
never holds a message back: it shows the tracker's name instead.

The store never calls Slack (bot/store/people.py keeps the claims); this module does, at the edge.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core.owners import TrackerOwner, read_owner, tracker_key
from bot.store import people as q
from bot.store.db import Store

log = logging.getLogger(__name__)

FOUND_TTL = timedelta(hours=1)
MISSING_TTL = timedelta(minutes=10)  # someone may join the workspace, or fix their email
PAUSE = timedelta(minutes=1)  # after a rate limit or an outage: names only, meanwhile
NO_SCOPE_PAUSE = timedelta(hours=1)  # an install without users:read.email: do not ask each time
MAX_LOOKUPS = 20  # Slack calls for one message; the rest of a long digest shows tracker names
MAX_CACHED = 10_000  # owners remembered per process: pushed runs may name anyone
NOT_FOUND = {"users_not_found", "user_not_found", "user_not_visible"}
# A digest is read by the whole channel every day: it names owners without notifying them.
NAMES_ONLY = {"digest"}


@dataclass(frozen=True)
class Person:
    user_id: str
    mentions: bool  # False: show their name, do not notify them


class People:
    def __init__(self, store: Store, clock: Callable[[], datetime]):
        self.store = store
        self.clock = clock
        self._users: dict[tuple[str, str, str], tuple[datetime, str | None]] = {}  # (team, how, value)
        self._names: dict[tuple[str, str], tuple[datetime, str | None]] = {}
        self._paused: dict[tuple[str, str], datetime] = {}  # (team, method) -> until

    def present(self, team_id: str, template: str, payload: dict[str, Any], client: WebClient) -> dict[str, Any]:
        """A copy of `payload` in which every dict naming an `owner` also says how to show them:
        `owner_mention` (a Slack user to mention) or `owner_name` (plain text), or neither."""
        if all(read_owner(node.get("owner")) is None for node, _trackers in _owned(payload)):
            return payload  # most rows: no run, or a run whose tracker names nobody
        payload = copy.deepcopy(payload)
        owned = [(node, read_owner(node.get("owner")), trackers) for node, trackers in _owned(payload)]
        people = self._people(team_id, [(o, t) for _node, o, t in owned if o is not None], client)
        for node, owner, trackers in owned:
            node.pop("owner_mention", None)
            node.pop("owner_name", None)
            if owner is None:
                continue
            person = people.get((owner, trackers))
            if person and person.mentions and template not in NAMES_ONLY:
                node["owner_mention"] = person.user_id
                continue
            name = self._name(team_id, person.user_id, client) if person else None
            if name or not owner.slack_id:  # an unconfirmed id is never shown as text
                node["owner_name"] = name or owner.name or owner.email
        return payload

    def user_for(self, team_id: str, owner: object, trackers: tuple[str, ...], client: WebClient) -> str | None:
        """The Slack user a run's owner is, if any (who may stop a run they own)."""
        found = read_owner(owner)
        if found is None:
            return None
        person = self._people(team_id, [(found, trackers)], client).get((found, trackers))
        return person.user_id if person else None

    def _people(self, team_id: str, owners: list[tuple[TrackerOwner, tuple[str, ...]]],
                client: WebClient) -> dict[tuple[TrackerOwner, tuple[str, ...]], Person]:
        wanted = {(tracker_key(t), o.key) for o, trackers in owners for t in trackers}
        with self.store.tx() as s:
            claimed = q.claimants(s, team_id, wanted)
        users: dict[tuple[TrackerOwner, tuple[str, ...]], str] = {}
        budget = [MAX_LOOKUPS]
        for owner, trackers in dict.fromkeys(owners):
            user = next((claimed[(tracker_key(t), owner.key)] for t in trackers
                         if (tracker_key(t), owner.key) in claimed), None)
            users[(owner, trackers)] = user or self._look_up(team_id, owner, client, budget)
        found = {k: u for k, u in users.items() if u}
        if not found:
            return {}
        with self.store.tx() as s:
            quiet = q.mentions_off(s, team_id, found.values())
        return {k: Person(u, u not in quiet) for k, u in found.items()}

    def _look_up(self, team_id: str, owner: TrackerOwner, client: WebClient, budget: list[int]) -> str | None:
        if owner.slack_id:
            return self._cached(team_id, "id", owner.slack_id, client, budget, self._confirm_id)
        if owner.email:
            return self._cached(team_id, "email", owner.email, client, budget, self._by_email)
        return None

    def _cached(self, team_id: str, how: str, value: str, client: WebClient, budget: list[int],
                ask: Callable[[WebClient, str], tuple[str | None, str | None]]) -> str | None:
        now = self.clock()
        hit = self._users.get((team_id, how, value))
        if hit and hit[0] > now:
            return hit[1]
        method = "users.info" if how == "id" else "users.lookupByEmail"
        if self._paused.get((team_id, method), now) > now or budget[0] <= 0:
            return None
        budget[0] -= 1
        try:
            user_id, name = ask(client, value)
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            if error not in NOT_FOUND:
                log.warning("%s failed: %s; showing the tracker's name", method, error)
                self._paused[(team_id, method)] = now + (NO_SCOPE_PAUSE if error == "missing_scope" else PAUSE)
                return None
            user_id, name = None, None
        except OSError as exc:  # Slack unreachable: the message goes out with the tracker's name
            log.warning("%s failed: %s", method, type(exc).__name__)
            self._paused[(team_id, method)] = now + PAUSE
            return None
        if len(self._users) >= MAX_CACHED:
            self._users.clear()
        self._users[(team_id, how, value)] = (now + (FOUND_TTL if user_id else MISSING_TTL), user_id)
        if user_id:
            if len(self._names) >= MAX_CACHED:
                self._names.clear()
            self._names[(team_id, user_id)] = (now + FOUND_TTL, name)
        return user_id

    def _name(self, team_id: str, user_id: str, client: WebClient) -> str | None:
        now = self.clock()
        hit = self._names.get((team_id, user_id))
        if hit and hit[0] > now:
            return hit[1]
        if self._paused.get((team_id, "users.info"), now) > now:
            return None
        try:
            _user, name = self._confirm_id(client, user_id)
        except (SlackApiError, OSError) as exc:
            log.warning("users.info for a display name failed: %s", type(exc).__name__)
            return None
        self._names[(team_id, user_id)] = (now + (FOUND_TTL if name else MISSING_TTL), name)
        return name

    @staticmethod
    def _confirm_id(client: WebClient, user_id: str) -> tuple[str | None, str | None]:
        return _person(client.users_info(user=user_id).get("user"))

    @staticmethod
    def _by_email(client: WebClient, email: str) -> tuple[str | None, str | None]:
        return _person(client.users_lookupByEmail(email=email).get("user"))


def _person(user: object) -> tuple[str | None, str | None]:
    """(user id, display name) of a users.info / lookupByEmail user; a deactivated one is nobody."""
    if not isinstance(user, dict) or user.get("deleted") or not isinstance(user.get("id"), str):
        return None, None
    profile = user.get("profile") if isinstance(user.get("profile"), dict) else {}
    names = (profile.get("display_name"), profile.get("real_name"), user.get("real_name"), user.get("name"))
    return user["id"], next((n.strip() for n in names if isinstance(n, str) and n.strip()), None)


def _owned(node: Any, trackers: tuple[str, ...] = ()) -> Iterator[tuple[dict[str, Any], tuple[str, ...]]]:
    """Every dict in a payload that names an `owner`, with the connection name and kind it is
    from: a run payload says them beside the run, a digest row carries its own connection."""
    if isinstance(node, dict):
        here = tuple(v for v in (node.get("connection"), node.get("kind")) if isinstance(v, str) and v)
        trackers = here or trackers
        if "owner" in node:
            yield node, trackers
        for value in node.values():
            if isinstance(value, dict | list):
                yield from _owned(value, trackers)
    elif isinstance(node, list):
        for value in node:
            yield from _owned(value, trackers)
