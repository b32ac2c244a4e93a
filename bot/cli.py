"""`readybot` command: serve, socket, demo, db, poll."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from bot.config import ConfigError, Settings, load, require_secret_key, require_slack
from bot.core.words import plural

log = logging.getLogger("readybot")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load()
        logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        # Their INFO lines are set-up noise, and APScheduler logs every job run at INFO.
        for noisy in ("alembic", "apscheduler"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        from bot import redact

        redact.install([settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token,
                        settings.slack_client_secret, settings.secret_key])
        return args.func(settings, args) or 0
    except ConfigError as exc:
        print(f"readybot: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="readybot", description="Slack bot that ties ML meetings to run results")
    parser.add_argument("--version", action="version", version=f"readybot {_installed_version()}")
    sub = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the bot over HTTP (Slack Events API) with the scheduler")
    serve.add_argument("--port", type=int, help="HTTP port (default READYBOT_PORT)")
    serve.add_argument("--role", choices=("all", "web", "worker"), default="all",
                       help="all: HTTP and the scheduler in one process (default); web: HTTP only, from "
                            "READYBOT_WEB_WORKERS gunicorn worker processes; worker: the scheduler and "
                            "delivery, with only /healthz and /metrics over HTTP")
    serve.set_defaults(func=cmd_serve)
    sock = sub.add_parser("socket", help="run the bot over Socket Mode (needs SLACK_APP_TOKEN)")
    sock.set_defaults(func=cmd_socket)
    demo = sub.add_parser("demo", help="run the bot against the local Slack sandbox (no Slack account needed)")
    demo.add_argument("--port", type=int, default=3000, help="bot HTTP port (default 3000)")
    demo.add_argument("--sandbox-port", type=int, default=3001, help="sandbox web page port (default 3001)")
    source = demo.add_mutually_exclusive_group()
    source.add_argument("--mlflow", metavar="URL", help="watch a real MLflow server instead of the simulated runs")
    source.add_argument("--no-sim", action="store_true", help="start with an empty #ml-team (no simulated runs)")
    demo.add_argument("--experiment", default="Default", help="with --mlflow: the experiment to track (default Default)")
    demo.add_argument("--speed", type=_speed, default=1.0,
                      help="run the simulated clock this many times faster than real time (default 1)")
    demo.set_defaults(func=cmd_demo)
    db = sub.add_parser("db", help="database schema")
    # A sub-command of its own, so `readybot db upgrade --help` explains upgrade, not `db`.
    db_sub = db.add_subparsers(title="actions", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply the database migrations, then exit",
                                description="Apply the pending database migrations to READYBOT_DATABASE_URL "
                                            "and exit. serve, socket and poll also run them on start.")
    upgrade.set_defaults(func=cmd_db)
    poll = sub.add_parser("poll", help="run one poll cycle and deliver what it produced, then exit")
    poll.set_defaults(func=cmd_poll)
    return parser


def _installed_version() -> str:
    # The package metadata is the one place the version is written (pyproject.toml).
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("readybot")
    except PackageNotFoundError:
        return "unknown (not installed)"


def prepared_services(settings: Settings):  # noqa: ANN201
    from bot.services import build_services
    from bot.store.migrate import upgrade

    with database_errors(settings):
        services = build_services(settings)
        upgrade(services.store.engine)
    if services.box.is_demo_key:
        log.warning("READYBOT_SECRET_KEY is not set: tracker keys are encrypted with a built-in demo key")
    return services


@contextmanager
def database_errors(settings: Settings) -> Iterator[None]:
    """A database that cannot be reached or opened at start-up is a configuration error: one
    line naming the variable and the driver's reason (any password in the URL masked)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SQLAlchemyError as exc:
        reason = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
        password = make_url(settings.database_url).password
        if password:
            reason = reason.replace(str(password), "***")
        raise ConfigError(f"cannot open the database in READYBOT_DATABASE_URL: {type(exc).__name__}: {reason}") from None


def cmd_db(settings: Settings, args: argparse.Namespace) -> int:
    from bot.store.db import Store
    from bot.store.migrate import upgrade

    with database_errors(settings):
        store = Store(settings.database_url)
        upgrade(store.engine)
    print("database schema is up to date")
    return 0


def cmd_poll(settings: Settings, args: argparse.Namespace) -> int:
    from bot.jobs.poll import poll_once
    from bot.notify.dispatch import Dispatcher

    require_secret_key(settings, "poll")
    services = prepared_services(settings)
    updated = poll_once(services)
    sent = Dispatcher(services.store, services.clients, services.clock).drain()
    print(f"updated {plural(updated, 'run')}, sent {plural(sent, 'notification')}")
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from bot.server import serve, serve_web

    require_secret_key(settings, "serve")
    require_slack(settings)
    services = prepared_services(settings)
    port = args.port if args.port is not None else settings.port
    if args.role == "web":
        # Migrated; each web worker opens its own pool after gunicorn's fork, none inherits this one.
        services.store.dispose()
        serve_web(settings, port)
    else:
        serve(services, port, role=args.role)
    return 0


def cmd_socket(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build_app
    from bot.jobs.scheduler import build_scheduler, stop_scheduler
    from bot.socket_mode import run_socket_mode

    require_secret_key(settings, "socket")
    if not settings.slack_app_token:
        raise ConfigError("SLACK_APP_TOKEN (xapp-...) is required for Socket Mode")
    require_slack(settings)
    services = prepared_services(settings)
    scheduler = build_scheduler(services)
    scheduler.start()
    try:
        run_socket_mode(build_app(services), settings.slack_app_token)
    finally:
        stop_scheduler(services, scheduler)
    return 0


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0.1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be a number from 0.1 to 100, not {text!r}")
    return value


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    # The composition root is the one product module that may load the sandbox, and only here,
    # lazily, so no other command pulls it in (tests/unit/test_import_rules.py).
    from bot.sandbox.demo import DemoOptions, run_demo

    run_demo(settings, DemoOptions(args.port, args.sandbox_port, simulate=not args.no_sim, mlflow=args.mlflow,
                                   experiment=args.experiment, speed=args.speed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
