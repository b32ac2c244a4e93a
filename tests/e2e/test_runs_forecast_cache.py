"""`/ready runs` in a channel with a target: each running run shows its forecast, fitted once
per new data and not on every request (bot/fits.py), in a bounded number of SQL statements
however many runs the page lists (issue 13)."""

from __future__ import annotations

import html
from datetime import timedelta

from sqlalchemy import event, insert, select

from bot.jobs import forecasts
from bot.metrics import FORECAST_FITS
from bot.sandbox.world import TEAM_ID
from bot.store.models import Run, RunPoint, Target
from tests.conftest import T0
from tests.e2e.test_runs_pages import seed

METRIC = "val_acc"


def curve(k: int) -> float:
    """val_acc rising towards 0.9, with a little deterministic wobble."""
    return 0.9 - 0.5 * (1 + k / 10) ** -0.8 + 0.002 * ((k * 7) % 5 - 2)


def with_target(bot, runs: int, channel: str = "C1", prefix: str = "run") -> list[int]:  # noqa: ANN001
    """`runs` running runs in `channel` with 30 kept points of val_acc each, and a target on it."""
    seed(bot.services.store, channel, runs, prefix=prefix)
    with bot.services.store.tx() as s:
        s.add(Target(team_id=TEAM_ID, channel_id=channel, metric=METRIC, op=">=", threshold=0.85, patience=1,
                     created_by="U1", created_at=T0))
        ids = list(s.scalars(select(Run.id).where(Run.ref.like(f"{prefix}-%")).order_by(Run.id)))
        s.execute(insert(RunPoint), [dict(run_id=run_id, key=METRIC, step=100 * (k + 1), value=curve(k),
                                          at=T0 + timedelta(minutes=k)) for run_id in ids for k in range(30)])
    return ids


def add_point(bot, run_id: int, k: int) -> None:  # noqa: ANN001
    with bot.services.store.tx() as s:
        s.add(RunPoint(run_id=run_id, key=METRIC, step=100 * (k + 1), value=curve(k), at=T0 + timedelta(minutes=k)))


def forecast_lines(bot, channel: str = "C1") -> list[str]:  # noqa: ANN001
    text = bot.reply("runs", channel_id=channel)
    return [part for line in text.splitlines() for part in line.split(" · ") if part.startswith(":crystal_ball:")]


def fresh_line(bot, run_id: int) -> str:  # noqa: ANN001
    """What a fit made now, with no cache, shows for the run (bot.jobs.forecasts.run_line)."""
    with bot.services.store.tx() as s:
        return forecasts.run_line(s, s.get(Run, run_id), TEAM_ID, "C1", bot.clock())


def fits() -> float:
    return FORECAST_FITS._value.get()


def test_a_kept_fit_says_what_a_fresh_fit_says_and_a_new_point_fits_again(bot):
    bot.clock.now = T0 + timedelta(hours=1)
    [run_id] = with_target(bot, 1)
    before = fits()
    [first] = forecast_lines(bot)
    assert fits() == before + 1
    assert first == fresh_line(bot, run_id) and "expected to reach" in html.unescape(first)

    bot.clock.advance(minutes=20)  # later, no new point: the kept fit, its times as of now
    [again] = forecast_lines(bot)
    assert again == fresh_line(bot, run_id)
    fitted = fits()
    forecast_lines(bot)
    assert fits() == fitted  # the listings reused the one fit

    add_point(bot, run_id, 30)
    [after] = forecast_lines(bot)
    assert fits() == fitted + 1  # new data: fitted again
    assert after == fresh_line(bot, run_id)


def test_a_listing_with_a_target_costs_the_same_statements_for_10_or_40_runs(bot):
    bot.clock.now = T0 + timedelta(hours=1)
    with_target(bot, 10, channel="C1")
    with_target(bot, 40, channel="C2", prefix="big")

    def statements(channel: str, runs: int) -> int:
        seen: list[str] = []
        listen = lambda *args: seen.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
        event.listen(bot.services.store.engine, "before_cursor_execute", listen)
        try:
            assert len(forecast_lines(bot, channel)) == runs
        finally:
            event.remove(bot.services.store.engine, "before_cursor_execute", listen)
        return len([st for st in seen if not st.startswith("BEGIN")])  # SQLite's BEGIN IMMEDIATE is the transaction

    # First every run is fitted, then every fit is kept.
    counts = {runs: (statements(channel, runs), statements(channel, runs)) for channel, runs in (("C1", 10), ("C2", 40))}
    assert counts[10] == counts[40]
    cold, warm = counts[40]
    assert cold <= 3 and warm <= 2  # the page; the targets with point counts; the histories to fit
