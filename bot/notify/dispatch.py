"""Delivery: claim outbox rows, render, send to Slack, store the message ts, mark sent.

Marking after sending gives at-least-once delivery; the stored ts lets later rows
update that message in place or reply in its thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from slack_sdk.errors import SlackApiError
from sqlalchemy import update

from bot.metrics import NOTIFICATIONS
from bot.notify import outbox, undeliverable
from bot.notify.fit import fit_message
from bot.notify.messages import build
from bot.notify.recover import already_posted, already_uploaded, stamp
from bot.notify.render import Message
from bot.people import People
from bot.slackapi import SlackClients
from bot.store.db import Store
from bot.store.listen import Listener
from bot.store.models import Outbox

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# Slack being down or answering 5xx is not the row's fault: such rows keep retrying (backoff capped
# at 15 minutes) for this long after they were queued, however many attempts that takes.
OUTAGE_PATIENCE = timedelta(hours=24)
TRANSIENT = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
# Errors that no retry will fix: the row is marked failed and kept for inspection.
PERMANENT = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "invalid_blocks",
    "msg_blocks_too_long",
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "no_permission",
    "missing_scope",
    "user_not_found",
    "cant_update_message",
    "message_not_found",
    "restricted_action",
}


# chat.postMessage allows about one message per second per channel, with short bursts
# (https://docs.slack.dev/reference/methods/chat.postMessage#rate_limiting).
PACE = timedelta(seconds=1.05)
PACED_FOR = timedelta(minutes=1)
# Channels the delivery thread of `readybot serve` sends to at once (bot/jobs/scheduler.py). A
# Dispatcher sends one row at a time unless told otherwise: the CLI, a button's immediate send and
# tests, whose fakes answer calls in the order they are made.
SENDERS = 4
MAX_DM_CHANNELS = 10_000  # DM channels remembered per process; forgotten all at once beyond that


class Deferred(Exception):
    """The row cannot be sent yet (its parent message has no ts yet)."""


class Heartbeat:
    """Calls `beat` every `every` seconds on a thread of its own while a batch is being sent, so
    a live sender keeps its claims however slow Slack is, and a dead one loses them quickly."""

    def __init__(self, beat: Callable[[], None], every: float):
        self._beat = beat
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._beat()
            except Exception:  # the database is away: the claims run out and the rows are retaken
                log.exception("renewing outbox claims failed")


class Dispatcher:
    def __init__(self, store: Store, clients: SlackClients, clock: Callable[[], datetime] | None = None,
                 renew_every: float = outbox.RENEW_SECONDS, senders: int = 1):
        self.store = store
        self.senders = senders
        self.clients = clients
        self.clock = clock or (lambda: datetime.now(UTC))
        self.renew_every = renew_every
        # team, or (team, channel) for chat.postMessage's per-channel limit -> when Slack's
        # Retry-After ends: after one 429 the other rows it covers wait too, instead of each
        # spending a request to be told the same.
        self._paused: dict[str | tuple[str, str], datetime] = {}
        # (team, channel) -> until when posts there are spaced PACE apart: a channel that was told
        # 429 gets one message a second for a while, rather than a 429 for every other try.
        self._paced: dict[tuple[str, str], datetime] = {}
        self.next_due: datetime | None = None  # the earliest retry this sender scheduled (DispatchLoop)
        self._lock = threading.Lock()  # the heartbeat thread shares the two below
        self._held: dict[int, tuple[int, datetime]] = {}  # row id -> (attempts claimed, claimed until)
        # Written with the next renewal or at the end of the batch, in one transaction with it:
        self._posted: dict[int, dict] = {}  # row id -> posted (ts, channel, when), to be marked sent
        self._put_back: list[dict] = []  # rows to retry later (a 429, an error), back in the queue
        self._batch_clients: dict[str, object] = {}  # team -> its WebClient, for one batch
        self._served: set[tuple[str, str]] = set()  # (team, channel)s of the last batch, for the claim
        self.people = People(store, self.clock)  # run owners as Slack users, looked up as rows are sent
        # (team, user) -> their DM channel. conversations.open answers the same channel for the same
        # person every time (https://docs.slack.dev/reference/methods/conversations.open), so a
        # standup's prompts, reminders and thanks need one call per person, not one per DM.
        self._dm_channels: dict[tuple[str, str], str] = {}

    def run_once(self, limit: int = 50) -> int:
        """Deliver what is due; returns how many rows were sent."""
        now = self.clock()
        self._forget_before(now)
        paused = list(self._paused)
        with self.store.tx() as s:
            rows = outbox.claim(s, now, limit, skip_teams=[k for k in paused if isinstance(k, str)],
                                skip_channels=[k for k in paused if isinstance(k, tuple)], served=self._served)
        self._served = {(row.team_id, row.channel_id) for row in rows}
        if not rows:
            return 0
        # Fresh for each batch: a token may have rotated since the last one.
        self._batch_clients = {team: self._new_client(team) for team in {row.team_id for row in rows}}
        with self._lock:
            until = now + timedelta(seconds=outbox.CLAIM_SECONDS)
            self._held.update({row.id: (row.attempts, until) for row in rows})
        channels: dict[tuple[str, str], list[Outbox]] = {}
        for row in rows:  # in claim order: each channel's rows in queue order
            channels.setdefault((row.team_id, row.channel_id), []).append(row)
        try:
            with Heartbeat(self.renew, self.renew_every):
                return sum(self._each_channel(list(channels.values())))
        finally:
            self.renew()  # marks what was posted
            with self._lock:
                for row in rows:
                    self._held.pop(row.id, None)

    def _each_channel(self, channels: list[list[Outbox]]) -> list[int]:
        """Send each channel's rows in order, SENDERS channels at a time: Slack answers each post in
        tens of milliseconds, and one channel's wait need not hold up the others. One channel's
        rows are never sent by two threads at once, so they go out in queue order."""
        if self.senders <= 1 or len(channels) <= 1:
            return [self._send_rows(rows) for rows in channels]
        with ThreadPoolExecutor(max_workers=min(self.senders, len(channels)), thread_name_prefix="outbox-send") as pool:
            return list(pool.map(self._send_rows, channels))

    def _send_rows(self, rows: list[Outbox]) -> int:
        sent = 0
        for row in rows:
            paused = self._pause_of(row)
            if paused is not None:
                self._retry(row, paused, outbox.RATELIMITED, count=False)
            elif self._still_ours(row):
                sent += self._deliver(row)
            self._let_go(row.id)
        return sent

    def renew(self) -> None:
        """One transaction: mark the rows posted since the last one sent, and extend the claims
        of those still held. A row another sender took over is dropped from what is held, and so
        is one marked sent now (extending its claim too would cost the batch's last statement)."""
        with self._lock:
            posted, self._posted = self._posted, {}
            put_back, self._put_back = self._put_back, []
            held = {row_id: attempts for row_id, (attempts, _until) in self._held.items() if row_id not in posted}
        until = self.clock() + timedelta(seconds=outbox.CLAIM_SECONDS)
        try:
            with self.store.tx() as s:
                outbox.mark_sent(s, list(posted.values()))
                outbox.put_back(s, put_back)
                kept = outbox.renew(s, held, until)
        except BaseException:
            with self._lock:  # tried again next time
                self._posted = {**posted, **self._posted}
                self._put_back = put_back + self._put_back
            raise
        with self._lock:
            for row_id in posted:
                self._held.pop(row_id, None)
            for row_id in held:
                if row_id not in self._held:
                    continue  # let go of meanwhile
                if row_id in kept:
                    self._held[row_id] = (held[row_id], until)
                else:
                    del self._held[row_id]

    def _still_ours(self, row: Outbox) -> bool:
        """Whether the claim still holds, renewed if it might run out during the send. Rows wait
        their turn while earlier ones are sent, and a slow Slack can outlast a claim; by then
        another sender may have claimed the row, and sending it here too would post it twice."""
        with self._lock:
            held = self._held.get(row.id)
        if held is None:
            return False
        if held[1] - self.clock() > timedelta(seconds=outbox.CLAIM_SECONDS - self.renew_every):
            return True  # renewed moments ago, and the heartbeat keeps renewing it
        self.renew()
        with self._lock:
            return row.id in self._held

    def _let_go(self, row_id: int) -> None:
        """A row done with (posted and waiting to be marked, retried or failed) is not renewed."""
        with self._lock:
            if row_id not in self._posted:
                self._held.pop(row_id, None)

    def take_next_due(self) -> datetime | None:
        """When this sender should look again by itself: the earliest row it put off, or the end
        of the earliest 429 pause (rows of a paused channel are not even claimed meanwhile)."""
        due, self.next_due = self.next_due, None
        ends = [until for until in list(self._paused.values()) if due is None or until < due]
        return min(ends, default=due)

    def _forget_before(self, now: datetime) -> None:
        for waits in (self._paused, self._paced):
            for key in [k for k, until in waits.items() if until <= now]:
                waits.pop(key, None)

    def _pause_of(self, row: Outbox) -> datetime | None:
        now = self.clock()
        for key in (row.team_id, (row.team_id, row.channel_id)):
            until = self._paused.get(key)
            if until is not None and until > now:
                return until
        return None

    def drain(self, rounds: int = 50) -> int:
        total = 0
        for _ in range(rounds):
            n = self.run_once()
            total += n
            if n == 0:
                break
        return total

    def _deliver(self, row: Outbox) -> int:
        now = self.clock()
        try:
            channel, ts = self._send(row)
        except Deferred:
            self._retry(row, now + timedelta(seconds=5), "waiting for the parent message", count=False)
            return 0
        except SlackApiError as exc:
            self._failed_call(row, exc, now)
            return 0
        except Exception as exc:  # network trouble, rendering bugs: retry, then give up
            log.exception("delivery of outbox row %s failed", row.id)
            # OSError: refused, reset, timed out - Slack unreachable, which no attempt count can judge.
            self._retry(row, now + _backoff(row.attempts), f"{type(exc).__name__}: {exc}"[:500],
                        transient=isinstance(exc, OSError))
            return 0
        self._mark_sent(row, channel, ts, now)
        NOTIFICATIONS.labels("sent").inc()
        key = (row.team_id, row.channel_id)
        if key in self._paced and self._paced[key] > now:  # Slack said 429 here lately: space them
            self._paused[key] = self.clock() + PACE
        return 1

    def _mark_sent(self, row: Outbox, channel: str, ts: str | None, now: datetime) -> None:
        """Noted, and written with the next renewal (one transaction for many rows): should this
        process die first, the row is retaken and recover.py finds the message already posted."""
        with self._lock:
            self._posted[row.id] = {"row_id": row.id, "key": row.dedupe_key, "ts": ts, "channel": channel, "at": now}

    def _send(self, row: Outbox) -> tuple[str, str | None]:
        # No retries inside the client: a 429 is rescheduled through the outbox, and a retried
        # post after a dropped connection could post twice, while a retried row checks first.
        client = self._client(row.team_id)
        parent = self._parent(row)
        message = build(row.template, self.people.present(row.team_id, row.template, row.payload, client))
        if row.op == "update":
            return self._update(client, parent, message)
        channel = row.channel_id
        if row.op == "dm":
            channel = self._dm_channel(client, row)
        if row.op == "upload":
            return self._upload(client, row, channel, parent)
        thread_ts = parent.ts if parent else None
        if row.attempts > 1:  # an earlier attempt may have posted before its sender died
            found = already_posted(client, channel, row.dedupe_key, thread_ts)
            if found:
                return channel, found
        first_ts = None
        # Validated against Block Kit limits; too long becomes a first message plus thread replies.
        for part in fit_message(message):
            extra = {} if first_ts else {"metadata": stamp(row.dedupe_key)}
            resp = client.chat_postMessage(
                channel=channel, thread_ts=thread_ts or first_ts, **part.as_kwargs(), **extra
            )
            # Slack answers with the ts and the resolved channel id; be lenient with stand-ins
            # that leave either out rather than re-posting a message that did go out.
            first_ts = first_ts or resp.get("ts")
            channel = resp.get("channel") or channel
        return channel, first_ts

    def _client(self, team_id: str):  # noqa: ANN202 - a WebClient
        """One client per team for the batch: a new one per row cost as much as rendering it (and,
        with OAuth, an installation lookup), while a batch is short enough for its token to hold."""
        client = self._batch_clients.get(team_id)
        if client is None:
            client = self._batch_clients[team_id] = self._new_client(team_id)
        return client

    def _new_client(self, team_id: str):  # noqa: ANN202 - a WebClient
        return self.clients.for_team(team_id, rate_limit_retries=0, connection_retries=0)

    def _dm_channel(self, client, row: Outbox) -> str:  # noqa: ANN001
        key = (row.team_id, row.channel_id)
        if key not in self._dm_channels:
            if len(self._dm_channels) >= MAX_DM_CHANNELS:
                self._dm_channels.clear()
            self._dm_channels[key] = client.conversations_open(users=row.channel_id)["channel"]["id"]
        return self._dm_channels[key]

    def _parent(self, row: Outbox) -> Outbox | None:
        if not row.parent_key:
            return None
        with self._lock:
            waiting = any(p["key"] == row.parent_key for p in self._posted.values())
        if waiting:
            self.renew()  # the parent was posted in this batch: mark it, so its ts is read below
        with self.store.tx() as s:
            parent = outbox.find(s, row.parent_key)
        if parent is None or parent.status == "failed":
            return None
        if parent.ts is None:
            raise Deferred()
        return parent

    def _update(self, client, parent: Outbox | None, message: Message) -> tuple[str, str | None]:  # noqa: ANN001
        if parent is None:
            raise ValueError("update without a message to update")
        first = fit_message(message)[0]
        resp = client.chat_update(channel=parent.posted_channel, ts=parent.ts, **first.as_kwargs())
        return resp.get("channel") or parent.posted_channel, resp.get("ts") or parent.ts

    def _upload(self, client, row: Outbox, channel: str, parent: Outbox | None):  # noqa: ANN001
        from bot.notify.uploads import file_for

        filename, content, comment = file_for(row.template, row.payload)
        # An earlier attempt may have shared it before its sender died (only a thread can be searched
        # reliably: a channel may hold the same run's chart from an earlier alert).
        if row.attempts > 1 and parent is not None and already_uploaded(client, channel, filename, parent.ts):
            return channel, None
        client.files_upload_v2(
            channel=channel,
            file=content,
            filename=filename,
            initial_comment=comment,
            thread_ts=parent.ts if parent else None,
        )
        return channel, None

    def _failed_call(self, row: Outbox, exc: SlackApiError, now: datetime) -> None:
        error = str(exc.response.get("error", "unknown_error"))
        if row.op == "dm":  # a DM channel that stopped working is opened afresh next time
            self._dm_channels.pop((row.team_id, row.channel_id), None)
        if exc.response.status_code == 429 or error == outbox.RATELIMITED:
            until = now + timedelta(seconds=_retry_after(exc.response.headers))
            # chat.postMessage is limited per channel (https://docs.slack.dev/reference/methods/chat.postMessage#rate_limiting):
            # one busy channel must not hold back the others. Other methods are limited per workspace.
            per_channel = row.op in ("post", "dm") and exc.response.api_url.endswith("chat.postMessage")
            self._paused[(row.team_id, row.channel_id) if per_channel else row.team_id] = until
            if per_channel:
                self._paced[(row.team_id, row.channel_id)] = now + PACED_FOR
            self._retry(row, until, outbox.RATELIMITED, count=False)
        elif error in PERMANENT:
            log.warning("outbox row %s failed permanently: %s", row.id, error)
            NOTIFICATIONS.labels("failed").inc()
            with self.store.tx() as s:  # a channel the bot cannot post in: tell who set it up, once a day
                s.execute(update(Outbox).where(Outbox.id == row.id).values(status="failed", error=error))
                undeliverable.report(s, row, error, now)
        else:
            transient = exc.response.status_code >= 500 or error in TRANSIENT
            self._retry(row, now + _backoff(row.attempts), error, transient=transient)

    def _retry(self, row: Outbox, when: datetime, error: str, count: bool = True, transient: bool = False) -> None:
        patient = transient and self.clock() - row.created_at < OUTAGE_PATIENCE
        if count and row.attempts >= MAX_ATTEMPTS and not patient:
            log.warning("outbox row %s failed permanently after %s attempts: %s", row.id, row.attempts, error)
            NOTIFICATIONS.labels("failed").inc()
            self._set(row, status="failed", error=error)
            return
        attempts = row.attempts if count else max(0, row.attempts - 1)  # waiting is not a failed attempt
        with self._lock:  # written with the batch's next renewal: one statement for many rows
            self.next_due = min(when, self.next_due or when)
            self._put_back.append({"row_id": row.id, "not_before": when, "error": error, "attempts": attempts})

    def _set(self, row: Outbox, **values) -> None:  # noqa: ANN003
        with self.store.tx() as s:
            s.execute(update(Outbox).where(Outbox.id == row.id).values(**values))


class DispatchLoop:
    """Delivers as soon as a notification is queued. Woken by the commit that queued it in this
    process (Store.on_commit), by PostgreSQL NOTIFY for rows other replicas queued, and by the
    scheduler's tick (`wake` every two seconds), the safety net should either be missed."""

    def __init__(self, dispatcher: Dispatcher):
        self.dispatcher = dispatcher
        self.store = dispatcher.store
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listener: Listener | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> DispatchLoop:
        self._stop.clear()
        self.store.on_commit(outbox.TOPIC, self.wake)
        if self.store.is_postgres:
            self.listener = Listener(self.store.engine.url, outbox.CHANNEL, self.wake).start()
        self._thread = threading.Thread(target=self._run, name="dispatch", daemon=True)
        self._thread.start()
        self.wake()  # rows queued before this process started
        return self

    def stop(self, wait: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self.store.off_commit(outbox.TOPIC, self.wake)
        if self.listener is not None:
            self.listener.stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(wait)

    def _run(self) -> None:
        while True:
            due = self.dispatcher.take_next_due()
            # Woken by a commit, a NOTIFY or the tick, or when a row this sender put off is due.
            self._wake.wait(None if due is None else max(0.0, (due - self.dispatcher.clock()).total_seconds()))
            if self._stop.is_set():
                return
            self._wake.clear()  # before draining: a row committed meanwhile wakes us again
            try:
                self.dispatcher.drain()
            except Exception:  # the database is away: the next wake (or tick) tries again
                log.exception("dispatch failed")


def _retry_after(headers: dict) -> float:
    """Seconds from a Retry-After header (any case); 1 when absent or unreadable."""
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            value = value[0] if isinstance(value, list) and value else value
            try:
                return min(3600.0, max(1.0, float(value)))
            except (TypeError, ValueError):
                return 1.0
    return 1.0


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(900, 5 * 2 ** max(0, attempts - 1)))
