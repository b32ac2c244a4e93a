"""Issue links in standup answers: after an answer is posted, look up the Jira keys and GitHub
references it mentions and edit the thread message to show each one's title and status.

Best effort by design: a lookup that fails, times out or is rate limited leaves the reference as
the member typed it. The answer itself is posted first and never waits on an issue tracker."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from bot.core.issue_refs import IssueRef, find_refs, link_line
from bot.handlers.base import Problem
from bot.handlers.standup_actions import answer_key, load_own_answer
from bot.notify import outbox
from bot.services import Services
from bot.store import runs as q
from bot.store.models import Connection, StandupAnswer
from integrations.errors import TrackerError
from integrations.issues import ISSUE_KINDS, IssueInfo

log = logging.getLogger(__name__)

CACHE_FOR = timedelta(minutes=10)  # titles and statuses change slowly; a standup round asks often
PAUSE_DEFAULT = timedelta(minutes=1)  # after a 429 that named no wait
BUDGET_SECONDS = 10.0  # the whole lookup of one answer, however many references it holds


def link_answer(services: Services, answer_id: int | str, user_id: str, team_id: str) -> int:
    """Edit the member's answer message to show the issues it mentions; returns how many were shown."""
    with services.store.tx() as s:
        try:
            answer, rnd = load_own_answer(s, answer_id, user_id, team_id)
        except Problem:
            return 0  # not theirs, or gone: the answer's own submission already said so
        texts = [str(t) for t in (answer.answers or {}).get("answers") or []]
        rev = int((answer.answers or {}).get("rev") or 0)
        conns = [c for c in q.team_connections(s, team_id) if c.kind in ISSUE_KINDS]
        infos = {c.id: q.connection_info(c, services.box) for c in conns}
        round_id = rnd.id
    refs = find_refs(texts, {c.kind for c in conns})
    if not refs:
        return 0
    shown = _lookup_all(services, refs, conns, infos)
    if not shown:
        return 0
    with services.store.tx() as s:
        answer = s.get(StandupAnswer, int(answer_id))
        if answer is None or int((answer.answers or {}).get("rev") or 0) != rev:
            return 0  # edited meanwhile: the newer revision gets its own links
        posted = outbox.find(s, answer_key(round_id, user_id, rev))
        if posted is None:
            return 0
        payload = {**(posted.payload or {}), "links": [link_line(info) for info in shown]}
        outbox.enqueue(s, key=f"{answer_key(round_id, user_id, 1)}:links{rev}", team_id=posted.team_id,
                       channel_id=posted.channel_id, op="update", template="standup_answer", payload=payload,
                       now=services.clock(), parent_key=answer_key(round_id, user_id, 1))
    return len(shown)


def _lookup_all(services: Services, refs: list[IssueRef], conns: list[Connection],
                infos: dict[int, Any]) -> list[IssueInfo]:
    started = time.monotonic()
    shown: list[IssueInfo] = []
    for ref in refs:
        if time.monotonic() - started > BUDGET_SECONDS:
            break
        for conn in (c for c in conns if c.kind == ref.kind):
            info = _lookup(services, conn, infos[conn.id], ref.key)
            if info is not None:
                shown.append(info)
                break
    return shown


def _lookup(services: Services, conn: Connection, info: Any, key: str) -> IssueInfo | None:
    now = services.clock()
    cached = services.issue_cache.get((conn.id, key))
    if cached is not None and now - cached[0] < CACHE_FOR:
        return cached[1]
    if services.issue_pause.get(conn.id, now) > now:
        return None  # rate limited: leave it alone until the tracker said to come back
    try:
        found = services.issue_trackers(info).lookup(key)
    except TrackerError as exc:
        if exc.status == 429 or exc.retry_after is not None:
            wait = timedelta(seconds=exc.retry_after) if exc.retry_after is not None else PAUSE_DEFAULT
            services.issue_pause[conn.id] = now + wait
        log.warning("issue lookup on %s (%s) failed: %s", conn.name, conn.kind, exc)
        return None
    services.issue_cache[(conn.id, key)] = (now, found)
    return found

