"""Forecast of a running run against its target: when it should get there, or where it levels off.

Pure: no database, no Slack; `now` is passed in. From the run's metric history (MetricPoints of
the target's metric) we fit a saturating learning curve and extrapolate it:

- power law        y = a - b * (x + c) ** -alpha   (c >= 0.001 of the last step: starts flat or not)
- exponential      y = a - b * exp(-k * x)

Both approach the asymptote `a`. The metric is first turned so that higher is better (a loss
target `<=` is fitted on -loss), so b > 0 always means "improving". The fit is scipy's
`least_squares` with the soft_l1 loss: a few bad evals (a spike, a restart) pull a plain
least-squares fit far more than they should. Of the two models the one with the lower AIC wins.
The x^-alpha power law without offset is not fitted separately: c near 0 is that curve, and
on the benchmark it never changed an answer while costing a third of the time.

We answer "not enough data" (kind UNKNOWN, with the reason) instead of guessing when:
- fewer than MIN_POINTS finite points at distinct steps (four parameters plus a held-out tail);
- the latest value is not finite (the run diverged; the NaN alert covers it);
- the curve is flat or the trend is lost in the noise (R^2 below MIN_R2, or the fitted change
  over the observed steps smaller than FLAT_NOISE_RATIO noise widths);
- the fit extrapolates badly: refitted without the newest HOLDOUT_FRACTION of the points, it
  misses them (median) by more than HOLDOUT_TOLERANCE noise widths. R^2 on the tail is not used: the
  tail of a saturating curve is nearly flat, so its variance is tiny and R^2 meaningless;
- the rate-setting parameter (alpha or k) ended on its bound: the data do not show the curve
  bending, so the asymptote is not determined;
- the plateau is unsure (its 95 % half-width, or the rival fits' disagreement) by more than
  MAX_PLATEAU_SPREAD times the whole change seen so far: any answer would be a guess;
- the crossing lies more than MAX_EXTRAPOLATION times the observed steps ahead.

Ranges: 80 % intervals from the parameter covariance (Gauss-Newton at the solution, noise from
the residuals' MAD): parameter draws are pushed through the crossing formula, which keeps the
skew of the step range that a symmetric delta method would lose. A real curve is neither model
exactly, so the range is widened to hold the other model's answer (when its AIC is close) and
the held-out fit's (how far the projection moved as the newest points came in). Draws are
seeded, so the same history always gives the same forecast (and the same message).

tests/perf/bench_forecast.py measures the error of the projected crossing step, how often the
range holds the true one, and the fit time.
"""

from __future__ import annotations

import enum
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
from scipy.optimize import least_squares

from bot.core.eta import estimate_eta
from bot.core.targets import Rule
from integrations.base import MetricPoint

MIN_POINTS = 10  # power law has 4 parameters; a quarter is held out, and the rest must overdetermine it
MAX_FIT_POINTS = 300  # longer histories are thinned evenly: same shape, bounded fit time
MIN_R2 = 0.5
FLAT_NOISE_RATIO = 3.0
HOLDOUT_FRACTION = 0.25
HOLDOUT_TOLERANCE = 4.0
MAX_EXTRAPOLATION = 20.0  # crossing at most this many times the last observed step
RANGE_QUANTILES = (0.10, 0.90)  # 80 % range for step and time
PLATEAU_Z = 1.96  # plateau given as value +- 1.96 sigma (95 %): a "confident miss" must be sure
DRAWS = 400
MAX_PLATEAU_SPREAD = 1.0  # plateau unsure by more than the whole change seen so far: no forecast
RIVAL_AIC = 10.0  # the other model still counts towards the range within this AIC of the best
_SEED = 20261202


class ForecastKind(enum.StrEnum):
    REACH = "reach"  # expected to reach the target at `step` (maybe after total_steps)
    REACHED = "reached"  # the latest value already meets the target
    PLATEAU = "plateau"  # expected to level off at `plateau` on the wrong side of the target
    UNKNOWN = "unknown"  # not enough data to forecast; `reason` says why


@dataclass(frozen=True)
class Forecast:
    """What the forecaster concluded for one (run, target).

    step_low <= step <= step_high and at_low <= at <= at_high whenever they are set. For REACH,
    step_high None means the range is open: some plausible curves never get there. `at` is None
    when the points carry no usable time stamps. plateau/plateau_pm are the fitted asymptote and
    its 95 % half-width, in the metric's own units (also set for REACH). confident_miss: the
    run is projected, with confidence, to end on the wrong side of the target (the whole plateau
    range misses it, or the whole step range lies after total_steps).
    """

    kind: ForecastKind
    rule: Rule
    reason: str = ""
    model: str | None = None
    step: int | None = None
    step_low: int | None = None
    step_high: int | None = None
    at: datetime | None = None
    at_low: datetime | None = None
    at_high: datetime | None = None
    plateau: float | None = None
    plateau_pm: float | None = None
    confident_miss: bool = False
    total_steps: int | None = None


PointLike = MetricPoint | tuple[int, float, datetime]


def forecast(
    points: Iterable[PointLike], rule: Rule, now: datetime, total_steps: int | None = None
) -> Forecast:
    """Forecast `rule` for one run from its history of `rule.metric`. Never raises on bad data."""
    total = total_steps if isinstance(total_steps, int) and total_steps > 0 else None

    def unknown(reason: str) -> Forecast:
        return _unknown(rule, total, reason)

    history = _clean(points)
    if not history:
        return unknown("no points yet")
    if not math.isfinite(history[-1].value):
        return unknown("the latest value is not a number")
    finite = [p for p in history if math.isfinite(p.value)]
    if rule.holds(finite[-1].value):
        return Forecast(ForecastKind.REACHED, rule, reason="the latest value meets the target", total_steps=total)
    # Step 0 is the untrained model (or MLflow's step-less logging): no evidence of the curve's shape.
    usable = [p for p in finite if p.step > 0]
    if len(usable) < MIN_POINTS:
        return unknown(f"only {len(usable)} points, {MIN_POINTS} needed")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return _forecast(usable, rule, now, total)
        except (ValueError, np.linalg.LinAlgError, FloatingPointError, OverflowError) as exc:
            return unknown(f"the fit failed ({type(exc).__name__})")


def as_of(fitted: Forecast, now: datetime) -> Forecast:
    """A forecast fitted earlier, as forecast() would answer at `now` (not before the fit) from
    the same points: only its times depend on the clock, each being "never before now", so
    a fit can be kept until new points arrive (bot/fits.py)."""
    # Only the times already past move (to now): most kept fits come back as they are, without a
    # copy (dataclasses.replace was a tenth of a forecast listing's Python).
    times = {name: now for name in ("at", "at_low", "at_high") if (at := getattr(fitted, name)) is not None and at < now}
    return replace(fitted, **times) if times else fitted


def _clean(points: Iterable[PointLike]) -> list[MetricPoint]:
    """Points with an int step >= 0 and a float value, one per step (the newest), step order."""
    by_step: dict[int, MetricPoint] = {}
    for raw in points:
        point = raw if isinstance(raw, MetricPoint) else _as_point(raw)
        if point is None or isinstance(point.step, bool) or not isinstance(point.step, int) or point.step < 0:
            continue
        if isinstance(point.value, bool) or not isinstance(point.value, int | float):
            continue
        if not isinstance(point.at, datetime) or point.at.tzinfo is None:
            continue
        old = by_step.get(point.step)
        if old is None or point.at >= old.at:
            by_step[point.step] = MetricPoint(point.step, _as_float(point.value), point.at)
    return [by_step[s] for s in sorted(by_step)]


def _as_float(value: float) -> float:
    try:
        return float(value)
    except OverflowError:  # an int too big for a float is as good as infinite
        return math.inf


def _as_point(raw: object) -> MetricPoint | None:
    if isinstance(raw, tuple) and len(raw) == 3:
        return MetricPoint(*raw)
    return None


# --- models -----------------------------------------------------------------------------------
# Fitted on x = step / last step (so x ends at 1) and z = oriented value scaled to its range,
# which keeps the bounds and starting grids meaningful whatever the units. Every model is
# a - b * g(q, x); for a fixed q, a and b are linear, which gives cheap, good starting values
# (a grid over q with a and b solved by lstsq) so that least_squares only has to polish:
# a few iterations instead of a hundred.


@dataclass(frozen=True)
class _Model:
    """a - b * g(q, x): q holds the nonlinear parameters, q[0] the rate."""

    name: str
    decay: Callable[[np.ndarray, np.ndarray], np.ndarray]  # g(q, x), falls towards 0 as x grows
    decay_dq: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]  # dg/dq columns, given (q, x, g)
    inverse: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (rows of q, g) -> x where g(q, x) == g
    q_bounds: tuple[tuple[float, float], ...]  # the rate on its bound means "no bend seen"
    grid: tuple[tuple[float, ...], ...]  # starting values of q

    def curve(self, p: np.ndarray, x: np.ndarray) -> np.ndarray:
        return p[0] - p[1] * self.decay(p[2:], x)

    def jacobian(self, p: np.ndarray, x: np.ndarray) -> np.ndarray:
        g = self.decay(p[2:], x)
        return np.column_stack([np.ones_like(x), -g, -p[1] * self.decay_dq(p[2:], x, g)])

    @property
    def lower(self) -> np.ndarray:
        return np.array([-_BIG, -_BIG, *(lo for lo, _ in self.q_bounds)])

    @property
    def upper(self) -> np.ndarray:
        return np.array([_BIG, _BIG, *(hi for _, hi in self.q_bounds)])


def _geo(bounds: tuple[float, float], n: int) -> list[float]:
    return [float(v) for v in np.geomspace(*bounds, n + 2)[1:-1]]


def _pow4_dq(q: np.ndarray, x: np.ndarray, g: np.ndarray) -> np.ndarray:
    u = x + q[1]
    return np.column_stack([-g * np.log(u), -q[0] * g / u])


_BIG = 1e3  # bound on asymptote and amplitude, in units of the observed range
_ALPHA, _C, _K = (0.05, 5.0), (1e-3, 2.0), (0.3, 60.0)
MODELS = (
    # power law with an offset (pow4-like, Domhan et al. 2015, learning-curve extrapolation):
    # the offset lets it start flat; c near 0 is the plain power law a - b * x^-alpha
    _Model("power law", lambda q, x: (x + q[1]) ** -q[0], _pow4_dq,
           lambda q, g: g ** (-1.0 / q[:, 0]) - q[:, 1], q_bounds=(_ALPHA, _C),
           grid=tuple((al, c) for al in _geo(_ALPHA, 8) for c in _geo(_C, 6))),
    # exponential approach to the asymptote: a - (a - y0) * exp(-k x)
    _Model("exponential", lambda q, x: np.exp(-q[0] * x), lambda q, x, g: (-g * x)[:, None],
           lambda q, g: -np.log(g) / q[:, 0], q_bounds=(_K,), grid=tuple((v,) for v in _geo(_K, 24))),
)


@dataclass(frozen=True)
class _Fit:
    model: _Model
    params: np.ndarray  # a, b, rate
    cov: np.ndarray | None
    sigma: float
    aic: float
    r2: float


def _fit(model: _Model, x: np.ndarray, z: np.ndarray, start: np.ndarray | None = None) -> _Fit | None:
    lower, upper = model.lower, model.upper
    x0 = np.clip(start if start is not None else _start(model, x, z), lower + 1e-9, upper - 1e-9)
    result = least_squares(lambda p: model.curve(p, x) - z, x0, jac=lambda p: model.jacobian(p, x),
                           bounds=(lower, upper), loss="soft_l1", f_scale=_noise(z),
                           ftol=1e-4, xtol=1e-4, max_nfev=100)
    params = result.x
    res = model.curve(params, x) - z
    if not np.all(np.isfinite(res)):
        return None
    n, k = len(z), len(params)
    sigma = max(1.4826 * float(np.median(np.abs(res - np.median(res)))), 1e-9)
    rss = float(np.sum(res**2))
    tss = float(np.sum((z - z.mean()) ** 2))
    r2 = 1.0 - rss / tss if tss > 0 else 0.0
    aic = n * math.log(max(rss / n, 1e-300)) + 2 * k
    return _Fit(model, params, _covariance(model.jacobian(params, x), sigma), sigma, aic, r2)


def _start(model: _Model, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Best grid point of q, with a and b solved linearly (z = a - b g is a line in g) for each."""
    grid = np.array(model.grid)
    g = np.stack([model.decay(q, x) for q in grid])  # one row per grid point
    gc = g - g.mean(axis=1, keepdims=True)
    var = np.sum(gc**2, axis=1)
    b = -(gc @ (z - z.mean())) / np.where(var > 0, var, 1.0)
    a = z.mean() + b * g.mean(axis=1)
    rss = np.sum((a[:, None] - b[:, None] * g - z) ** 2, axis=1)
    rss = np.where(np.isfinite(rss) & (var > 0), rss, np.inf)
    i = int(np.argmin(rss))
    return np.array([a[i], b[i], *grid[i]])


def _noise(z: np.ndarray) -> float:
    """Noise width from successive differences (robust, needs no model); floored above zero."""
    diffs = np.diff(z)
    return max(1.4826 * float(np.median(np.abs(diffs - np.median(diffs)))) / math.sqrt(2), 1e-6)


def _covariance(jac: np.ndarray, sigma: float) -> np.ndarray | None:
    cov = np.linalg.pinv(jac.T @ jac) * sigma**2
    return cov if np.all(np.isfinite(cov)) else None


def _at_bound(fit: _Fit) -> bool:
    lo, hi = fit.model.q_bounds[0]
    return not lo * 1.001 < fit.params[2] < hi * 0.999


# --- the forecast -----------------------------------------------------------------------------


def _forecast(points: list[MetricPoint], rule: Rule, now: datetime, total: int | None) -> Forecast:
    points = _thin(points)
    steps = np.array([p.step for p in points], dtype=float)
    values = np.array([p.value for p in points], dtype=float)
    sign = 1.0 if rule.maximize else -1.0
    oriented = sign * values
    last_step = steps[-1]
    lo, hi = float(oriented.min()), float(oriented.max())
    span = hi - lo
    if not span > 0 or not math.isfinite(span):
        return _unknown(rule, total, "the metric is flat")
    x = steps / last_step
    z = (oriented - lo) / span
    target_z = (sign * rule.threshold - lo) / span

    fits = [f for f in (_fit(m, x, z) for m in MODELS) if f is not None]
    fits = [f for f in fits if not _at_bound(f)]
    if not fits:
        return _unknown(rule, total, "the curve does not bend yet: no plateau in sight")
    best = min(fits, key=lambda f: f.aic)
    if best.r2 < MIN_R2:
        return _unknown(rule, total, "the metric is too noisy to fit")
    fitted = best.model.curve(best.params, x)
    if abs(fitted[-1] - fitted[0]) < FLAT_NOISE_RATIO * best.sigma:
        return _unknown(rule, total, "the metric is flat or lost in the noise")
    early = _held_out_fit(best, x, z)
    if early is None:
        return _unknown(rule, total, "the curve's shape changes: an earlier fit misses the latest points")
    rivals = [f for f in fits if f is not best and f.aic - best.aic < RIVAL_AIC] + [early]
    return _project(best, rivals, points, rule, now, total, last_step, target_z,
                    lambda v: sign * (lo + v * span))


def _unknown(rule: Rule, total: int | None, reason: str) -> Forecast:
    return Forecast(ForecastKind.UNKNOWN, rule, reason=reason, total_steps=total)


def _thin(points: list[MetricPoint]) -> list[MetricPoint]:
    if len(points) <= MAX_FIT_POINTS:
        return points
    keep = np.unique(np.linspace(0, len(points) - 1, MAX_FIT_POINTS).round().astype(int))
    return [points[i] for i in keep]


def _held_out_fit(fit: _Fit, x: np.ndarray, z: np.ndarray) -> _Fit | None:
    """The fit refitted on the older points, or None when it misses the newer ones.

    "Misses" is a median absolute miss above HOLDOUT_TOLERANCE noise widths plus 2 % of the
    range (exact, noiseless curves need some slack too); the median, so that one wild eval in
    the tail does not condemn a good fit.
    """
    cut = max(int(len(x) * (1 - HOLDOUT_FRACTION)), MIN_POINTS // 2 + 2)
    early = _fit(fit.model, x[:cut], z[:cut], start=fit.params)
    if early is None:
        return None
    miss = fit.model.curve(early.params, x[cut:]) - z[cut:]
    return early if float(np.median(np.abs(miss))) <= HOLDOUT_TOLERANCE * fit.sigma + 0.02 else None


def _project(
    fit: _Fit,
    rivals: list[_Fit],
    points: list[MetricPoint],
    rule: Rule,
    now: datetime,
    total: int | None,
    last_step: float,
    target_z: float,
    to_metric: Callable[[float], float],
) -> Forecast:
    """Step, time and plateau from the best fit; ranges widened to hold what the rivals say.

    Parameter draws alone assume the model is right; a real curve is neither model exactly,
    so the range also spans the other model (when nearly as good) and the fit without the
    newest points: how far the projection moved as data came in.
    """
    a = float(fit.params[0])
    draws = _draws(fit)
    a_sd = float(np.std(draws[:, 0])) if len(draws) > 1 else 0.0
    spread = max([PLATEAU_Z * a_sd] + [abs(float(r.params[0]) - a) for r in rivals])
    if not spread <= MAX_PLATEAU_SPREAD:
        return _unknown(rule, total, "too unsure where the curve levels off")
    plateau = to_metric(a)
    plateau_pm = abs(to_metric(a + spread) - plateau) if math.isfinite(spread) else None
    common = dict(model=fit.model.name, plateau=plateau, plateau_pm=plateau_pm, total_steps=total)

    point_x = _crossings(fit.model, fit.params[None, :], target_z)[0]
    if not math.isfinite(point_x):
        miss = math.isfinite(spread) and a + spread < target_z
        return Forecast(ForecastKind.PLATEAU, rule, reason="the asymptote is short of the target",
                        confident_miss=bool(miss), **common)
    if point_x > MAX_EXTRAPOLATION and (total is None or point_x * last_step <= total):
        return _unknown(rule, total, "the target is too far beyond the data to project")
    xs = _crossings(fit.model, draws, target_z) if len(draws) else np.array([point_x])
    q_low, q_high = np.quantile(xs, RANGE_QUANTILES)
    others = [float(_crossings(r.model, r.params[None, :], target_z)[0]) for r in rivals]
    q_low, q_high = min([q_low, *others]), max([q_high, *others])
    step = _to_step(point_x, last_step)
    step_low = min(_to_step(q_low, last_step), step)
    step_high = max(_to_step(q_high, last_step), step) if math.isfinite(q_high) else None
    miss = total is not None and step_low > total
    at, at_low, at_high = (_when(s, points, now) for s in (step, step_low, step_high))
    if at is not None:
        at_low = min(at_low, at) if at_low is not None else at
        at_high = max(at_high, at) if at_high is not None else None
    return Forecast(ForecastKind.REACH, rule, reason="the curve crosses the target", step=step,
                    step_low=step_low, step_high=step_high, at=at, at_low=at_low, at_high=at_high,
                    confident_miss=miss, **common)


def _draws(fit: _Fit) -> np.ndarray:
    """Parameter sets drawn around the fit, kept inside the model's bounds."""
    if fit.cov is None:
        return fit.params[None, :]
    rng = np.random.default_rng(_SEED)
    draws = rng.multivariate_normal(fit.params, fit.cov, size=DRAWS, method="eigh", check_valid="ignore")
    draws = np.clip(draws, fit.model.lower, fit.model.upper)
    return draws[np.all(np.isfinite(draws), axis=1)]


def _crossings(model: _Model, params: np.ndarray, target_z: float) -> np.ndarray:
    """x at which each parameter set's curve reaches target_z going up; inf when it never does.

    A curve already above the target at the last point crosses "now" (x = 1): the measured
    value is still short of it, so the next points should get there.
    """
    a, b = params[:, 0], params[:, 1]
    rising = (b > 0) & (a > target_z)
    g = np.where(rising, (a - target_z) / np.where(b > 0, b, 1.0), 1.0)
    x = np.where(rising & (g > 0), model.inverse(params[:, 2:], np.clip(g, 1e-300, None)), np.inf)
    x = np.where(np.isnan(x), np.inf, x)
    return np.maximum(x, 1.0)


def _to_step(x: float, last_step: float) -> int:
    return int(round(min(x * last_step, 1e15)))


def _when(step: int | None, points: list[MetricPoint], now: datetime) -> datetime | None:
    """When the run gets to `step`, from the recent steps per second; never before `now`."""
    if step is None:
        return None
    last = points[-1]
    history: Sequence[tuple[datetime, int]] = [(p.at, p.step) for p in points]
    eta = estimate_eta(last.step, step, None, last.at, history)
    if eta is None:
        return None
    return max(eta, now)
