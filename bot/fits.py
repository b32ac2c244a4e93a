"""Forecast fits kept until their run has new points.

A fit costs about 15 ms (bot/core/forecast.py), and `/ready runs` shows one for each listed
running run against the channel's target: fitting on every request made a listing cost its
running runs times 15 ms. A forecast depends only on the points, the rule, the run's expected
total and, for its times, the clock (forecast.as_of), so it is kept under the run, the rule, the
total, and how many points there are up to which step: a new point, or a pruned old one,
makes a new key and the next request fits again. Bounded: the least recently used fits go
first. One cache per process and database (Services.fits: run ids are the database's), shared
by every request thread.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.forecast import Forecast, as_of, forecast
from bot.core.targets import Rule
from bot.metrics import FORECAST_FITS
from integrations.base import MetricPoint

MAX_FITS = 4096  # a Forecast is a few hundred bytes; 40 listed runs in 100 busy channels fit


@dataclass(frozen=True)
class FitKey:
    run_id: int
    rule: Rule
    total_steps: int | None
    points: int  # how many kept points of rule.metric
    last_step: int | None  # the newest of them


def key_of(run_id: int, rule: Rule, total_steps: int | None, history: Sequence[MetricPoint]) -> FitKey:
    return FitKey(run_id, rule, total_steps, len(history), history[-1].step if history else None)


class FitCache:
    def __init__(self, size: int = MAX_FITS) -> None:
        self._size = size
        self._fits: OrderedDict[FitKey, tuple[Forecast, datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: FitKey, now: datetime) -> Forecast | None:
        """The kept forecast as of `now`; None when there is none, or it was fitted later than
        `now` (a clock set back: its times would be too late)."""
        with self._lock:
            kept = self._fits.get(key)
            if kept is None or kept[1] > now:
                return None
            self._fits.move_to_end(key)
        return as_of(kept[0], now)

    def put(self, key: FitKey, fitted: Forecast, now: datetime) -> None:
        with self._lock:
            self._fits[key] = (fitted, now)
            self._fits.move_to_end(key)
            while len(self._fits) > self._size:
                self._fits.popitem(last=False)

    def forecast(self, key: FitKey, now: datetime, history: Callable[[], Sequence[MetricPoint]]) -> Forecast:
        """The forecast for `key`, fitted on history() only when none is kept."""
        kept = self.get(key, now)
        if kept is not None:
            return kept
        fitted = fit(history(), key.rule, now, key.total_steps)
        self.put(key, fitted, now)
        return fitted

    def clear(self) -> None:
        with self._lock:
            self._fits.clear()


def fit(history: Sequence[MetricPoint], rule: Rule, now: datetime, total_steps: int | None) -> Forecast:
    """A fresh fit, counted in readybot_forecast_fits_total."""
    FORECAST_FITS.inc()
    return forecast(history, rule, now, total_steps)
