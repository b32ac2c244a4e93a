"""Kept forecast fits (bot/fits.py): a kept fit reads as a fresh one at any later time, a new
point is a new fit, and the cache stays within its size."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.forecast import ForecastKind, as_of, forecast
from bot.fits import FitCache, key_of
from bot.metrics import FORECAST_FITS
from tests.unit.test_forecast import ACC, T0, history, power_law

RUNNING = history(power_law, last=20_000, n=60)  # val_acc on its way to 0.9, points until T0 + 10_000 s


@pytest.mark.parametrize("later", [timedelta(0), timedelta(minutes=5), timedelta(hours=3), timedelta(days=30)])
def test_a_fit_as_of_a_later_time_is_the_fit_made_then(later):
    fitted_at = T0 + timedelta(seconds=10_000)
    kept = forecast(RUNNING, ACC, fitted_at, 200_000)
    assert kept.kind is ForecastKind.REACH and kept.at is not None
    assert as_of(kept, fitted_at + later) == forecast(RUNNING, ACC, fitted_at + later, 200_000)


def test_the_cache_fits_once_per_history_and_again_when_a_point_arrives():
    cache, now = FitCache(), T0 + timedelta(seconds=10_000)
    before = FORECAST_FITS._value.get()
    key = key_of(1, ACC, 200_000, RUNNING)
    first = cache.forecast(key, now, lambda: RUNNING)
    assert cache.forecast(key, now + timedelta(hours=1), lambda: RUNNING) == forecast(
        RUNNING, ACC, now + timedelta(hours=1), 200_000)
    assert FORECAST_FITS._value.get() == before + 1
    grown = history(power_law, last=20_400, n=61)
    assert key_of(1, ACC, 200_000, grown) != key
    assert cache.forecast(key_of(1, ACC, 200_000, grown), now, lambda: grown) != first
    assert FORECAST_FITS._value.get() == before + 2


def test_a_clock_set_back_fits_again_and_old_fits_make_room():
    cache, now = FitCache(size=2), T0 + timedelta(seconds=10_000)
    keys = [key_of(run_id, ACC, 200_000, RUNNING) for run_id in (1, 2, 3)]
    for key in keys:
        cache.put(key, forecast(RUNNING, ACC, now, 200_000), now)
    assert cache.get(keys[0], now) is None  # the least recently used went first
    assert cache.get(keys[2], now) is not None
    assert cache.get(keys[2], now - timedelta(minutes=1)) is None  # its times would be too late
