"""`readybot demo`: the bot and a local Slack sandbox in one process, no Slack account needed.

FakeSlack plays Slack (Web API + a web page that acts as the Slack client), the real bot
server answers it over HTTP with signed requests, exactly as in production; only
SLACK_API_URL, the token and the signing secret differ.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import signal
import threading
from dataclasses import dataclass

from sqlalchemy.engine import make_url

from bot.config import ConfigError, Settings
from bot.server import Server
from bot.services import Services, build_services

from .page import SandboxPage
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

    @property
    def sandbox_url(self) -> str:
        return self.fake.url

    @property
    def bot_url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        # The bot first: its scheduler would otherwise post to a sandbox that is already gone.
        self.server.stop()
        self.fake.stop()
        self.services.store.dispose()


def seed_workspace(fake: FakeSlack) -> None:
    fake.add_user(BOT_USER_ID, BOT_NAME, is_bot=True)
    for user_id, name, real_name, tz in DEMO_USERS:
        fake.add_user(user_id, name, tz=tz, real_name=real_name)
    members = [BOT_USER_ID, *(u[0] for u in DEMO_USERS)]
    fake.add_channel("C1", "general", members)
    fake.add_channel("C2", "ml-team", members)


def demo_settings(settings: Settings, fake: FakeSlack, token: str, signing_secret: str, port: int) -> Settings:
    """The given settings pointed at the sandbox. OAuth and Socket Mode are switched off: the
    sandbox is one workspace reached over HTTP."""
    return dataclasses.replace(
        settings, slack_api_url=fake.api_url, slack_bot_token=token, slack_signing_secret=signing_secret,
        slack_app_token=None, slack_client_id=None, slack_client_secret=None, port=port,
    )


def start_demo(settings: Settings, port: int = 3000, sandbox_port: int = 3001, host: str = "127.0.0.1",
               scheduler: bool = True) -> Demo:
    """Start the sandbox and the bot; returns at once. Port 0 picks a free port."""
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
        services = build_services(demo_settings(settings, fake, token, signing_secret, port))
        upgrade(services.store.engine)
        server = Server(services, port, host=host, scheduler=scheduler).start()
    except BaseException:
        fake.stop()
        raise
    fake.page = SandboxPage(fake, server.url + "/slack/events", signing_secret)
    return Demo(fake, server, services)


def run_demo(settings: Settings, port: int = 3000, sandbox_port: int = 3001) -> None:
    """Run the demo until Ctrl-C (or SIGTERM), then stop both servers."""
    if logging.getLogger().getEffectiveLevel() >= logging.INFO:
        # The terminal is for the person trying the bot: job runs every 2 s would bury the
        # instructions. READYBOT_LOG_LEVEL=DEBUG shows everything again.
        for name in ("apscheduler", "alembic"):
            logging.getLogger(name).setLevel(logging.WARNING)
    try:
        demo = start_demo(settings, port, sandbox_port)
    except OSError as exc:  # most often a port in use: say which, not a traceback
        raise ConfigError(f"cannot listen on 127.0.0.1 ports {port} and {sandbox_port} ({exc.strerror}); "
                          "choose others with --port and --sandbox-port") from None
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


def instructions(demo: Demo) -> str:
    database = make_url(demo.services.settings.database_url).render_as_string(hide_password=True)
    every = demo.services.settings.poll_seconds
    return (
        "\nreadybot demo is running: a local Slack sandbox, no Slack account needed.\n\n"
        f"  Open the sandbox in your browser:  {demo.sandbox_url}\n\n"
        f"  Bot server:  {demo.bot_url}/slack/events (polls trackers every {every}s)\n"
        f"  Database:    {database}\n\n"
        "In #ml-team, type `/ready help`, or `/ready connect push as trainer` to get a push token.\n"
        "Switch users (two time zones) at the top left. Press Ctrl-C to stop.\n"
    )
