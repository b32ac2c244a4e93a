"""Benchmark: `/ready runs` and `/ready help` under load, against a bare Bolt app on the same server.

    python tests/perf/bench_commands.py [--seconds 10] [--concurrency 50] [--runs 200] [--rounds 3] [--db postgres|sqlite]
                                        [--with-target] [--server waitress|gunicorn] [--workers N]
                                        [--loader wrk|python] [--requests 1000]

- "readybot": the bot's own HTTP stack (bot/server.py `Server`: waitress and the WSGI router in
  front of Bolt, exactly what `readybot serve` answers Slack with; the scheduler is off so only the
  web tier is measured), in a process of its own, on a channel tracking --runs runs that carry
  MLflow-sized metrics and params. With --with-target the channel also has a target on one of
  those metrics and every running run has POINTS kept points of it: the expensive case, where
  each listed running run shows where it is heading (a forecast fitted on its history).
- "bare_bolt" (the reference): a slack_bolt App with one `/ready` listener that only acks, behind
  Bolt's own WSGI adapter on the same waitress settings, in a process of its own.
With --server gunicorn both run instead as `readybot serve --role web` does: gunicorn's threaded
workers with bot/server.py's gunicorn_options, --workers processes each (default: the web role's
own default for this machine), the bot's Services built in each worker after the fork.
Both answer distinct signed slash commands (signed as Slack signs them) sent --concurrency at a
time over keep-alive connections, and each reply is checked. The load comes from `wrk`
(https://github.com/wg/wrk, Debian package `wrk`; --seconds a round) when it is installed, else
(or with --loader python) from threads in this process (--requests a round): on a small machine
those threads take as much CPU as the servers they measure, and both p99s then queue behind them. Prints JSON: per command the median
round's p50/p99 and requests/s, and the ratio of readybot's p99 to the bare app's. Goals: p99
within 2x of the bare app and under 200 ms.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # runnable as a plain script from the repo root
    sys.path.insert(0, str(ROOT))
PERF = str(Path(__file__).resolve().parent)
if PERF not in sys.path:  # spawned children import this module by name
    sys.path.insert(0, PERF)

import requests  # noqa: E402
from benchdb import scratch_database  # noqa: E402 - tests/perf is on sys.path when run as a script
from procstat import TICKS_PER_SECOND, parent_and_cpu_ticks  # noqa: E402
from slack_sdk.signature import SignatureVerifier  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from bot.sandbox import FakeSlack  # noqa: E402
from bot.sandbox.world import TEAM_ID  # noqa: E402

TOKEN = "xoxb-bench"
SECRET = "bench-signing-secret"
CHANNEL = "C0BENCH"
T0 = datetime.now(UTC) - timedelta(hours=2)
STATES = ("running", "running", "running", "finished", "failed", "stalled", "queued")
COMMANDS = {"runs": ("runs", "Runs tracked here"), "help": ("help", "/ready")}
TARGET_METRIC = "val/metric_00"
POINTS = 300  # per running run: as many as the forecaster fits (bot/core/forecast.py MAX_FIT_POINTS)


def seed(url: str, runs: int, with_target: bool = False) -> None:
    """One MLflow connection and an experiment watch in CHANNEL with `runs` runs, each with 60
    metrics and 30 params (the JSON a real MLflow run brings along); with_target: a target in
    CHANNEL on TARGET_METRIC and a rising, levelling history of it for every running run."""
    from bot.store.db import Store
    from bot.store.migrate import upgrade
    from bot.store.models import Connection, Run, Watch, WatchRun

    store = Store(url)
    upgrade(store.engine)
    with store.tx() as s:
        conn = Connection(team_id=TEAM_ID, name="prod", kind="mlflow", url="http://127.0.0.1:9", options={},
                          created_at=T0)
        s.add(conn)
        s.flush()
        watch = Watch(team_id=TEAM_ID, channel_id=CHANNEL, connection_id=conn.id, ref="ablations",
                      is_experiment=True, created_by="U1", created_at=T0)
        s.add(watch)
        s.flush()
        s.execute(insert(Run), [dict(
            connection_id=conn.id, ref=f"{i:032x}", name=f"resnet50-ablation-{i}", experiment="ablations",
            state=STATES[i % len(STATES)], step=100 * (i % 97), total_steps=10_000,
            metrics={f"val/metric_{k:02d}": 0.5 + (i * k % 100) / 1000 for k in range(60)},
            params={f"param_{k:02d}": f"value-{i}-{k}" for k in range(30)},
            started_at=T0, heartbeat_at=T0 + timedelta(minutes=90), progress_at=T0 + timedelta(minutes=90),
            eta=T0 + timedelta(hours=5), owner=f"user{i % 20}", url=f"http://mlflow.example/#/runs/{i}",
            polled_at=datetime.now(UTC), active=True, created_at=T0 + timedelta(seconds=i), updated_at=T0,
        ) for i in range(runs)])
        ids = s.scalars(select(Run.id).where(Run.connection_id == conn.id)).all()
        s.execute(insert(WatchRun), [dict(watch_id=watch.id, run_id=i) for i in ids])
        if with_target:
            seed_target(s, conn.id)
    store.dispose()


def seed_target(s, connection_id: int) -> None:  # noqa: ANN001 - a Session
    from bot.store.models import Run, RunPoint, Target

    s.add(Target(team_id=TEAM_ID, channel_id=CHANNEL, metric=TARGET_METRIC, op=">=", threshold=0.85, patience=1,
                 created_by="U1", created_at=T0))
    running = s.scalars(select(Run.id).where(Run.connection_id == connection_id, Run.state == "running")).all()
    for n, run_id in enumerate(running):
        s.execute(insert(RunPoint), [dict(
            run_id=run_id, key=TARGET_METRIC, step=20 * (k + 1),
            value=0.9 - 0.5 * (1 + k / 40) ** -0.8 + 0.002 * ((k * 7 + n) % 5 - 2),
            at=T0 + timedelta(seconds=18 * (k + 1)),
        ) for k in range(POINTS)])


def quiet_waitress() -> None:
    # At 50 concurrent requests on 8 threads waitress logs "Task queue depth" on every burst.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)


def serve_readybot(url: str, slack_api: str, ready) -> None:  # noqa: ANN001
    from bot.config import Settings
    from bot.server import Server
    from bot.services import build_services

    quiet_waitress()
    settings = Settings(database_url=url, slack_api_url=slack_api, slack_bot_token=TOKEN,
                        slack_signing_secret=SECRET, secret_key="bench-secret-key", port=0)
    server = Server(build_services(settings), port=0, host="127.0.0.1", scheduler=False)
    ready.send(server.port)
    server.run()


def bare_bolt_app(slack_api: str):  # noqa: ANN201 - a WSGI app
    """The reference: one `/ready` listener that only acks, behind Bolt's own WSGI adapter."""
    from slack_bolt import App
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    app = App(token=TOKEN, signing_secret=SECRET, token_verification_enabled=False)
    app.client.base_url = slack_api

    @app.command("/ready")
    def ready_command(ack) -> None:  # noqa: ANN001
        ack("ok")

    return SlackRequestHandler(app)


def serve_bare_bolt(slack_api: str, ready) -> None:  # noqa: ANN001
    from waitress.server import create_server

    quiet_waitress()
    http = create_server(bare_bolt_app(slack_api), host="127.0.0.1", port=0, threads=8, ident="bare")
    ready.send(http.effective_port)
    http.run()


def serve_gunicorn(app_name: str, url: str, slack_api: str, workers: int, ready) -> None:  # noqa: ANN001
    """`app_name` ("readybot" or "bare_bolt") under gunicorn with the web role's options."""
    import socket

    from gunicorn.app.base import BaseApplication

    from bot.config import Settings
    from bot.server import gunicorn_options

    settings = Settings(database_url=url, slack_api_url=slack_api, slack_bot_token=TOKEN,
                        slack_signing_secret=SECRET, secret_key="bench-secret-key", port=0, web_workers=workers,
                        log_level="WARNING")
    with socket.socket() as probe:  # a free port; gunicorn binds it itself
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    class Bench(BaseApplication):
        def load_config(self) -> None:
            # Only where it listens and how long it waits to stop differ from the web role's.
            options = {**gunicorn_options(settings, port), "bind": f"127.0.0.1:{port}", "graceful_timeout": 2}
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):  # noqa: ANN202 - a WSGI app, built in each worker after the fork
            if app_name == "bare_bolt":
                return bare_bolt_app(slack_api)
            from bot.app import build_app
            from bot.services import build_services
            from bot.web import WebApp

            services = build_services(settings)
            return WebApp(build_app(services), services)

    ready.send(port)
    Bench().run()


def serve_gunicorn_readybot(url: str, slack_api: str, workers: int, ready) -> None:  # noqa: ANN001
    serve_gunicorn("readybot", url, slack_api, workers, ready)


def serve_gunicorn_bare(slack_api: str, workers: int, ready) -> None:  # noqa: ANN001
    serve_gunicorn("bare_bolt", "sqlite://", slack_api, workers, ready)


def wait_listening(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)  # a server starting up, not a test waiting on time


def signed(text: str, fake: FakeSlack, user: str) -> tuple[bytes, dict]:
    form = {"token": "bench", "team_id": TEAM_ID, "team_domain": "bench", "channel_id": CHANNEL,
            "channel_name": "bench", "user_id": user, "user_name": user.lower(), "command": "/ready",
            "text": text, "api_app_id": "A0BENCH", "is_enterprise_install": "false",
            "response_url": fake.new_response_url(CHANNEL, None, user), "trigger_id": f"1.{time.time()}.bench"}
    body = urlencode(form)
    ts = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
    return body.encode(), {"Content-Type": "application/x-www-form-urlencoded",
                           "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


def load(url: str, bodies: list[tuple[bytes, dict]], concurrency: int, expect: str) -> dict:
    """Send every body, `concurrency` at a time, each worker on its own keep-alive connection."""
    latencies: list[float] = []
    bad = [0]
    lock = threading.Lock()
    todo = iter(bodies)

    def worker() -> None:
        http = requests.Session()
        while True:
            with lock:
                item = next(todo, None)
            if item is None:
                return
            start = time.perf_counter()
            resp = http.post(url, data=item[0], headers=item[1], timeout=30)
            took = time.perf_counter() - start
            with lock:
                latencies.append(took)
                if resp.status_code != 200 or expect not in resp.text:
                    bad[0] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for _ in range(concurrency):
            pool.submit(worker)
    wall = time.perf_counter() - started
    q = statistics.quantiles(sorted(latencies), n=100, method="inclusive")
    return {"p50_ms": round(q[49] * 1000, 1), "p99_ms": round(q[98] * 1000, 1),
            "req_per_s": round(len(latencies) / wall, 1), "bad_replies": bad[0], "answered": len(latencies)}


# wrk's Lua hooks (https://github.com/wg/wrk/blob/master/SCRIPTING): each thread sends its own
# slice of the pre-signed requests (every one distinct, as Slack's are; a thread that runs out
# starts its slice again and counts the repeats) and counts the replies that are not 200 or lack
# the expected text; done() prints the summary as one JSON line. wrk runs for a duration (a
# thread can stop early, but wrk still waits out -d), so a round is --seconds long.
WRK_SCRIPT = """
local bodies = {%(bodies)s}
local stamps = {%(stamps)s}
local signatures = {%(signatures)s}
local expect, threads, counter = %(expect)s, {}, 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  step = %(threads)d
  nxt, bad, repeats = index + 1, 0, 0
end

function request()
  local i = nxt
  nxt = nxt + step
  if i > #bodies then
    repeats = repeats + 1
    i = (i - 1) %% #bodies + 1
  end
  return wrk.format("POST", "/slack/events", {["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Slack-Request-Timestamp"] = stamps[i], ["X-Slack-Signature"] = signatures[i]}, bodies[i])
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, expect, 1, true) then bad = bad + 1 end
end

function done(summary, latency, requests)
  local bad, repeats = 0, 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("bad")
    repeats = repeats + thread:get("repeats")
  end
  io.write(string.format('RESULT {"p50_us": %%d, "p99_us": %%d, "requests": %%d, "duration_us": %%d, '
    .. '"bad": %%d, "errors": %%d, "repeats": %%d}\\n', latency:percentile(50), latency:percentile(99),
    summary.requests, summary.duration, bad, summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, repeats))
end
"""
WRK_THREADS = 2  # one per core here; wrk is event-driven, each thread holds concurrency/2 connections


def lua_string(value: str) -> str:
    # Signed bodies are URL-encoded and headers are hex and digits: nothing to escape.
    if not value.isascii() or any(c in value for c in '"\\\n'):
        raise ValueError("not a plain ASCII string")
    return f'"{value}"'


def wrk_load(url: str, bodies: list[tuple[bytes, dict]], concurrency: int, expect: str, seconds: float) -> dict:
    """Like load, by wrk for `seconds`: latencies from wrk's own histogram (microseconds)."""
    threads = min(WRK_THREADS, concurrency)
    fill = {"bodies": ",".join(lua_string(b.decode()) for b, _ in bodies),
            "stamps": ",".join(lua_string(h["X-Slack-Request-Timestamp"]) for _, h in bodies),
            "signatures": ",".join(lua_string(h["X-Slack-Signature"]) for _, h in bodies),
            "expect": lua_string(expect), "threads": threads}
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT % fill)
        script.flush()
        base = url.removesuffix("/slack/events")
        done = subprocess.run(["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "30s",
                               "-s", script.name, base], capture_output=True, text=True, timeout=seconds + 60,
                              check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    got = json.loads(line.removeprefix("RESULT "))
    return {"p50_ms": round(got["p50_us"] / 1000, 1), "p99_ms": round(got["p99_us"] / 1000, 1),
            "req_per_s": round(got["requests"] / (got["duration_us"] / 1e6), 1),
            "bad_replies": got["bad"] + got["errors"], "answered": got["requests"], "repeated": got["repeats"]}


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process and all its descendants (gunicorn's workers), from /proc:
    what a request costs the server, which the shared machine's noise does not change much."""
    stats = {int(e.name): found for e in Path("/proc").iterdir()
             if e.name.isdigit() and (found := parent_and_cpu_ticks(int(e.name))) is not None}
    family = {pid}
    for _ in range(4):  # the bench's process tree is at most a few levels deep
        family |= {p for p, (ppid, _) in stats.items() if ppid in family}
    return sum(stats[p][1] for p in family if p in stats) / TICKS_PER_SECOND


def costed(pid: int, send: Callable[[], dict]) -> dict:
    """One round, with the server's CPU per answered request."""
    before = cpu_seconds(pid)
    result = send()
    result["server_cpu_ms_per_req"] = round((cpu_seconds(pid) - before) * 1000 / max(result.get("answered", 1), 1), 2)
    return result


def wrk_rounds(url: str, fake: FakeSlack, text: str, expect: str, concurrency: int, rounds: int,
               seconds: int, pid: int) -> list[dict]:
    """Two 2 s warm-ups (the first fills the server's caches, the second's rate says how many
    distinct bodies a round needs), then the rounds, each signed just before it (a signature is
    good for 5 minutes) with twice as many bodies as the last round's rate asks, to spare."""
    rate = 750.0
    for _ in range(2):
        rate = wrk_load(url, [signed(text, fake, "U1") for _ in range(int(rate * 2 * 2))], concurrency, expect,
                        2)["req_per_s"]
    results = []
    for _ in range(rounds):
        bodies = [signed(text, fake, f"U{i % 50}") for i in range(int(rate * seconds * 2) + 2 * concurrency)]
        results.append(costed(pid, lambda b=bodies: wrk_load(url, b, concurrency, expect, seconds)))
        rate = results[-1]["req_per_s"]
    return results


def measure(target, args: tuple, fake: FakeSlack, text: str, expect: str, n: int, concurrency: int,
            rounds: int, loader: str = "python", seconds: int = 10) -> dict:
    ctx = mp.get_context("spawn")
    mine, theirs = ctx.Pipe()
    proc = ctx.Process(target=target, args=(*args, theirs), daemon=True)
    proc.start()
    try:
        port = mine.recv()
        wait_listening(port)
        url = f"http://127.0.0.1:{port}/slack/events"
        if loader == "wrk":
            results = wrk_rounds(url, fake, text, expect, concurrency, rounds, seconds, proc.pid)
        else:
            load(url, [signed(text, fake, "U1") for _ in range(100)], concurrency, expect)  # warm up
            rounds_bodies = ([signed(text, fake, f"U{i % 50}") for i in range(n)] for _ in range(rounds))
            results = [costed(proc.pid, lambda b=bodies: load(url, b, concurrency, expect))
                       for bodies in rounds_bodies]
    finally:
        proc.terminate()
        proc.join()
    return sorted(results, key=lambda r: r["p99_ms"])[len(results) // 2]  # the median round


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="per round, with --loader python")
    parser.add_argument("--seconds", type=int, default=10, help="per round, with --loader wrk")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--with-target", action="store_true",
                        help="a target in the channel and metric histories for its running runs")
    parser.add_argument("--server", choices=["waitress", "gunicorn"], default="waitress",
                        help="waitress: the all role's server; gunicorn: the web role's")
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn worker processes (default: the web role's default here)")
    parser.add_argument("--loader", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python",
                        help="what sends the load: wrk (the default when installed) or threads in this process")
    args = parser.parse_args()

    url = scratch_database(args.db, "rb_bench_commands")
    seed(url, args.runs, args.with_target)
    per_round = {"seconds_per_round": args.seconds} if args.loader == "wrk" else {"requests": args.requests}
    out: dict = {"benchmark": "commands", "db": args.db, "runs_in_channel": args.runs, **per_round,
                 "concurrency": args.concurrency, "rounds": args.rounds, "with_target": args.with_target,
                 "server": args.server, "loader": args.loader}
    workers = ()
    if args.server == "gunicorn":
        from bot.config import default_web_workers

        workers = (args.workers or default_web_workers(),)
        out["workers"] = workers[0]
    bare_server, our_server = ((serve_gunicorn_bare, serve_gunicorn_readybot) if workers
                               else (serve_bare_bolt, serve_readybot))
    with FakeSlack(tokens=(TOKEN,)) as fake:
        run = (args.requests, args.concurrency, args.rounds, args.loader, args.seconds)
        bare = measure(bare_server, (fake.api_url, *workers), fake, "runs", "ok", *run)
        out["bare_bolt"] = bare
        for name, (text, expect) in COMMANDS.items():
            if name == "runs" and args.with_target:
                expect = ":crystal_ball:"  # each reply is checked to show the forecasts
            ours = measure(our_server, (url, fake.api_url, *workers), fake, text, expect, *run)
            ratio = round(ours["p99_ms"] / bare["p99_ms"], 2)
            out[name] = {**ours, "p99_vs_bare": ratio,
                         "goals": {"p99_within_2x_bare": ratio <= 2, "p99_under_200ms": ours["p99_ms"] < 200}}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
