"""The demo's training scripts: set #ml-team up the way a team would, then push the runs of
bot/sandbox/curves.py to the bot over its real push API.

Everything goes through the product's own front doors: the set-up is `/ready` commands typed
by Alice in the sandbox page (signed requests to the bot, as from Slack), and the runs report
with POST /api/v1/runs/<ref> and the Bearer token `/ready connect push` handed out, exactly as a
training script would. Only the clock is the demo's: DemoClock may run faster than real time
so a test sees two minutes of demo in a few seconds.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import requests

from bot.services import utcnow

from . import curves
from .page import SandboxPage
from .slack_api import FakeSlack

log = logging.getLogger(__name__)

CHANNEL, USER = "C2", "U1"  # #ml-team, typed by Alice
CONNECTION = "demo"  # run refs read demo:<run>, so every run message says where it comes from
REVIEW_IN = timedelta(minutes=30)  # the review is soon, and the long run needs hours more
STANDUP_AT, DIGEST_AT, DIGEST_NOW_AFTER = "09:30", "17:00", 70.0  # the digest posts once runs have ended
TOKEN = re.compile(r"rbp_[\w-]+")


class DemoClock:
    """Now, for the bot and the simulator: real time times `speed` since the demo started."""

    def __init__(self, speed: float = 1.0, start: datetime | None = None) -> None:
        self.speed = speed
        self._start = start or utcnow()
        self._mono = time.monotonic()

    def __call__(self) -> datetime:
        return self._start + timedelta(seconds=self.elapsed())

    def elapsed(self) -> float:
        """Demo seconds since the start."""
        return (time.monotonic() - self._mono) * self.speed


class Simulator:
    """A thread that sets the demo channel up, then reports every simulated run each tick."""

    def __init__(self, fake: FakeSlack, page: SandboxPage, bot_url: str, clock: DemoClock,
                 runs: Sequence[curves.SimRun] = curves.SCENARIO, tick: float = 1.0) -> None:
        self.fake, self.page, self.bot_url, self.clock = fake, page, bot_url, clock
        self.runs, self.tick = tuple(runs), tick  # tick: real seconds between reports
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="demo-simulator", daemon=True)
        self._ended: set[str] = set()
        self._session = requests.Session()
        self.token = ""
        self.reported_at = -1.0  # demo time of the last round of reports, all answered
        self._reported = threading.Condition()

    def start(self) -> Simulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._session.close()

    def _main(self) -> None:
        try:
            self.token = self.connect()
            self.set_up()
            self.feed()
        except Exception:  # the demo page stays up; the terminal says why the runs stopped
            log.exception("the demo simulator stopped")

    # set-up: what a team types on day one

    def say(self, text: str) -> None:
        answer = self.page.command({"user": USER, "channel": CHANNEL, "text": text})
        if not answer.get("ok"):
            log.warning("demo set-up: %r was not accepted: %s", text, answer)

    def connect(self) -> str:
        """`/ready connect push as demo`; the token comes back in Alice's ephemeral answer."""
        self.say(f"/ready connect push as {CONNECTION}")
        found = self.fake.wait_for(lambda: TOKEN.search(str(self.fake.ephemerals(CHANNEL))), timeout=30)
        if not found:
            raise RuntimeError("the bot did not hand out a push token")
        return found.group(0)

    def set_up(self) -> None:
        for run in self.runs:
            self.say(f"/ready track {CONNECTION}:{run.ref} steps {run.total_steps}")
        self.say(f"/ready target {curves.TARGET} on {CONNECTION}:{curves.TARGET_RUN}")
        self.say(f"/ready standup at {STANDUP_AT} on weekdays")
        self.say(f"/ready digest at {DIGEST_AT} on weekdays")
        # The long run's ETA needs a couple of reports before the review asks for it.
        self.report_all()
        self._stop.wait(self.tick)
        self.report_all()
        self.say(review_command(self.clock(), self.page.user_tz(USER)))
        self.say("/ready standup now")

    # the training scripts

    def feed(self) -> None:
        digest_sent = False
        while not self._stop.wait(self.tick):
            self.report_all()
            if not digest_sent and self.clock.elapsed() >= DIGEST_NOW_AFTER:
                self.say("/ready digest now")
                digest_sent = True

    def report_all(self) -> None:
        t = self.clock.elapsed()
        for run in self.runs:
            body = curves.report_at(run, t)
            if body is None or run.ref in self._ended:
                continue
            self.push(run.ref, body)
            if body["state"] != "running":
                self._ended.add(run.ref)  # a script reports its end once, then exits
        with self._reported:
            self.reported_at = t
            self._reported.notify_all()

    def wait_reported(self, t: float, timeout: float) -> bool:
        """Block until every run has reported at demo time t or later (tests driving the clock)."""
        with self._reported:
            return self._reported.wait_for(lambda: self.reported_at >= t, timeout)

    def push(self, ref: str, body: dict) -> None:
        try:
            resp = self._session.post(f"{self.bot_url}/api/v1/runs/{ref}", json=body, timeout=10,
                                      headers={"Authorization": f"Bearer {self.token}"})
        except requests.RequestException as exc:
            log.warning("demo run %s could not report: %s", ref, type(exc).__name__)
            return
        if resp.status_code != 200:
            log.warning("demo run %s: the bot answered %s: %s", ref, resp.status_code, resp.text[:200])
            return
        if body.get("state") == "running" and resp.json().get("stop") is True and ref not in self._ended:
            # What README's loop does when someone clicks Stop run in Slack: report the end, exit.
            self._ended.add(ref)
            self.push(ref, {"state": "killed", "ended_at": self.clock().isoformat()})


def review_command(now: datetime, tz: str) -> str:
    """The review, in Alice's time zone, REVIEW_IN from now with a lead that has already begun."""
    at = (now + REVIEW_IN).astimezone(ZoneInfo(tz)) + timedelta(minutes=1)
    runs = ",".join(f"{CONNECTION}:{ref}" for ref in curves.REVIEW_RUNS)
    return f'/ready review "Demo results review" at {at:%Y-%m-%d %H:%M} runs {runs} lead 1h'

