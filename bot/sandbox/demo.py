"""`readybot demo`: the bot and a local Slack sandbox in one process, no Slack account needed.

FakeSlack plays Slack (Web API + a web page that acts as the Slack client), the real bot
server answers it over HTTP with signed requests, exactly as in production; only
SLACK_API_URL, the token and the signing secret differ.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import secrets
import signal
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.config import ConfigError, Settings
from bot.server import Server
from bot.services import Services, build_services

from .page import SandboxPage
from .simulator import CHANNEL, CONNECTION, USER, DemoClock, Simulator
from .slack_api import FakeSlack
from .world import BOT_NAME, BOT_USER_ID

log = logging.getLogger(__name__)

# (id, name, real name, time zone): two zones, so schedules and review times show the difference.
DEMO_USERS = (
    ("U1", "alice", "Alice Chen", "America/Los_Angeles"),
    ("U2", "bob", "Bob Okafor", "America/Los_Angeles"),
    ("U3", "chiara", "Chiara Rossi", "Europe/Berlin"),
    ("U4", "dmitri", "Dmitri Ivanov", "Europe/Berlin"),
)


@dataclass
class Demo:
    """A running demo: the sandbox (Slack) and the bot server."""

    fake: FakeSlack
    server: Server
    services: Services
    simulator: Simulator | None = None

    @property
    def sandbox_url(self) -> str:
        return self.fake.url

    @property
    def bot_url(self) -> str:
        return self.server.url

    @property
    def page(self) -> SandboxPage:
        return self.fake.page

    def stop(self) -> None:
        if self.simulator is not None:
            self.simulator.stop()
        # The bot first: its scheduler would otherwise post to a sandbox that is already gone.
        self.server.stop()
        self.fake.stop()
        self.services.store.dispose()


def seed_workspace(fake: FakeSlack) -> None:
    fake.add_user(BOT_USER_ID, BOT_NAME, is_bot=True)
    for user_id, name, real_name, tz in DEMO_USERS:
        fake.add_user(user_id, name, tz=tz, real_name=real_name, email=f"{name}@example.com")
    members = [BOT_USER_ID, *(u[0] for u in DEMO_USERS)]
    fake.add_channel("C1", "general", members)
    fake.add_channel("C2", "ml-team", members)


# A quick bot for a demo that must show everything in two minutes: the one-minute stall window
# is the shortest READYBOT_STALL_MINUTES allows, and the poll (which also finds stalls) and the
# review, standup and digest checks run every 2 seconds.
QUICK = {"poll_seconds": 2, "stall_minutes": 1}


def demo_settings(settings: Settings, fake: FakeSlack, token: str, signing_secret: str, port: int,
                  quick: bool = False) -> Settings:
    """The given settings pointed at the sandbox. OAuth and Socket Mode are switched off: the
    sandbox is one workspace reached over HTTP."""
    return dataclasses.replace(
        settings, slack_api_url=fake.api_url, slack_bot_token=token, slack_signing_secret=signing_secret,
        slack_app_token=None, slack_client_id=None, slack_client_secret=None, port=port,
        **(QUICK if quick else {}),
    )


def fresh_database(parent: Path | None = None) -> str:
    """A new SQLite file for each demo. The sandbox's Slack lives in memory and is gone when the
    demo stops, so a database that remembered would point at channels and messages that no
    longer exist: a restarted demo starts fresh instead of resuming."""
    folder = Path(tempfile.mkdtemp(prefix="readybot-demo-", dir=parent))
    return f"sqlite:///{folder / 'demo.db'}"


def start_demo(settings: Settings, port: int = 3000, sandbox_port: int = 3001, host: str = "127.0.0.1",
               scheduler: bool = True, simulate: bool = False, clock: DemoClock | None = None,
               tick: float = 1.0) -> Demo:
    """Start the sandbox and the bot; returns at once. Port 0 picks a free port.

    simulate: also start the simulated training runs (and the quick settings they need);
    clock: the bot's and the simulator's clock (a faster DemoClock compresses the demo)."""
    # Imported here: importing alembic logs its plugin set-up, after run_demo has quieted it.
    from bot.store.migrate import upgrade

    # Fresh credentials per run: both servers are local, but a fixed, published signing secret
    # would let anything that reaches the bot's port send it commands.
    token = "xoxb-sandbox-" + secrets.token_hex(12)
    signing_secret = secrets.token_hex(16)
    fake = FakeSlack(tokens=(token,), seed=False, port=sandbox_port, host=host)
    fake.world.realtime = True
    seed_workspace(fake)
    fake.start()
    try:
        overrides = {"clock": clock} if clock is not None else {}
        services = build_services(demo_settings(settings, fake, token, signing_secret, port, quick=simulate),
                                  **overrides)
        upgrade(services.store.engine)
        server = Server(services, port, host=host, scheduler=scheduler).start()
        # Port 0 picked a free one: messages with links to the bot (push URL, calendar feed) need it.
        services.settings = dataclasses.replace(services.settings, port=server.port)
    except BaseException:
        fake.stop()
        raise
    fake.page = SandboxPage(fake, server.url + "/slack/events", signing_secret)
    demo = Demo(fake, server, services)
    if simulate:
        fake.page.banner = (f"Demo: the runs of connection \"{CONNECTION}\" are simulated training scripts "
                            "pushing to readybot, on a clock of minutes instead of hours.")
        demo.simulator = Simulator(fake, fake.page, server.url, clock or DemoClock(), tick=tick).start()
    return demo


def watch_mlflow(demo: Demo, url: str, experiment: str) -> None:
    """`--mlflow`: connect a real MLflow server and track one experiment, as a user would type it."""
    fake = demo.fake
    demo.page.banner = f"Demo: watching the MLflow experiment \"{experiment}\" at {url}."
    before = len(fake.ephemerals(CHANNEL))
    demo.page.command({"user": USER, "channel": CHANNEL, "text": f"/ready connect mlflow {url} as mlflow"})
    # connect acks with "Checking <url>..." and answers later, through the response_url, once it
    # has reached the server (or given up): wait for that answer, not the ack.
    answered = fake.wait_for(lambda: [e for e in fake.ephemerals(CHANNEL)[before:] if not e.get("sandbox")
                                      and not str(e.get("text") or "").startswith(":hourglass")], timeout=60)
    reason = str(answered[-1].get("text") or "") if answered else "no answer in 60 s"
    if "Connected *mlflow*" not in reason:
        raise ConfigError(f"cannot watch MLflow at {url}: {reason}")
    name = experiment if re.fullmatch(r"[\w.-]+", experiment) else '"' + experiment.replace('"', "") + '"'
    demo.page.command({"user": USER, "channel": CHANNEL, "text": f"/ready track mlflow:experiment/{name}"})


@dataclass(frozen=True)
class DemoOptions:
    """What `readybot demo` shows: the simulated runs (default), a real MLflow server, or nothing."""

    port: int = 3000
    sandbox_port: int = 3001
    simulate: bool = True
    mlflow: str | None = None
    experiment: str = "Default"
    speed: float = 1.0  # demo seconds per real second, for the simulated runs and the bot


def run_demo(settings: Settings, options: DemoOptions = DemoOptions()) -> None:
    """Run the demo until Ctrl-C (or SIGTERM), then stop both servers."""
    if logging.getLogger().getEffectiveLevel() >= logging.INFO:
        # The terminal is for the person trying the bot: job runs every 2 s would bury the
        # instructions. READYBOT_LOG_LEVEL=DEBUG shows everything again.
        for name in ("apscheduler", "alembic"):
            logging.getLogger(name).setLevel(logging.WARNING)
    port, sandbox_port = options.port, options.sandbox_port
    simulate = options.simulate and not options.mlflow
    settings = dataclasses.replace(settings, database_url=fresh_database())
    try:
        demo = start_demo(settings, port, sandbox_port, simulate=simulate, clock=DemoClock(options.speed))
    except OSError as exc:  # most often a port in use: say which, not a traceback
        raise ConfigError(f"cannot listen on 127.0.0.1 ports {port} and {sandbox_port} ({exc.strerror}); "
                          "choose others with --port and --sandbox-port") from None
    if options.mlflow:
        try:
            watch_mlflow(demo, options.mlflow, options.experiment)
        except BaseException:
            demo.stop()
            raise
    if demo.services.box.is_demo_key:
        log.warning("READYBOT_SECRET_KEY is not set: tracker keys are encrypted with a built-in demo key")
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        # `timeout`, docker stop and systemd send SIGTERM: stop as cleanly as on Ctrl-C.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(instructions(demo), flush=True)
    try:
        while not stop.wait(1.0):  # a timed wait keeps Ctrl-C responsive on every platform
            pass
    except KeyboardInterrupt:
        pass
    finally:
        print("\nStopping readybot demo...", flush=True)
        demo.stop()


def what_happens(demo: Demo) -> str:
    if demo.simulator is not None:
        return ("In #ml-team, four simulated training runs report to readybot over its push API: within two\n"
                "minutes you will see a target alert with its chart, a diverging run fail, a stall and its\n"
                "recovery, and a review warning with a Postpone button. Try `/ready runs` meanwhile.\n")
    if "Demo: watching" in demo.page.banner:
        return "In #ml-team, readybot tracks the MLflow experiment; try `/ready runs` and `/ready target`.\n"
    return "In #ml-team, type `/ready help`, or `/ready connect push as trainer` to get a push token.\n"


def instructions(demo: Demo) -> str:
    database = make_url(demo.services.settings.database_url).render_as_string(hide_password=True)
    every = demo.services.settings.poll_seconds
    return (
        "\nreadybot demo is running: a local Slack sandbox, no Slack account needed.\n\n"
        f"  Open the sandbox in your browser:  {demo.sandbox_url}\n\n"
        f"  Bot server:  {demo.bot_url}/slack/events (polls trackers every {every}s)\n"
        f"  Database:    {database}\n"
        "               (a fresh one each start: the sandbox forgets its messages on exit, so a\n"
        "               restarted demo starts over instead of resuming)\n\n"
        f"{what_happens(demo)}\n"
        "Switch users (two time zones) at the top left. Press Ctrl-C to stop.\n"
    )
