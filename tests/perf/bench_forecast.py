"""Benchmark: how well bot/core/forecast.py projects a run's crossing of its target, and its cost.

    python tests/perf/bench_forecast.py [--seeds 5] [--points 200]

Curves come from known models (a power law with an offset, which the fitted 3-parameter power
law can only approximate, an exponential approach, and a loss going down), with several noise
levels and seeds, and targets that the run reaches early, mid-way or late, only after its last
step, or never (above the asymptote); plus a curve with a step learning-rate drop at half the
run, which no saturating model foresees from before the drop. Each run is cut at 25/50/75 % of its steps and forecast
with total_steps known. Printed as JSON, per cut:

- crossing_rel_error median / p90: |projected step - true step| / true step, over the runs
  that truly reach the target before their end, not yet there at the cut, and forecast REACH;
- range_covers_truth: share of those whose step range holds the true crossing step;
- not_enough_data: share of UNKNOWN answers (runs already at the target excluded);
- call_correct: share of right "will reach before the end / won't" calls among the others;
- fit time per run (median, p90) beside a bare numpy polyfit (degree 2) on the same points,
  as a ratio measured in this one run. CPU time of this process (time.process_time), so that
  other work on a shared machine does not count as ours.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # runnable as a plain script from the repo root
    sys.path.insert(0, str(ROOT))

from bot.core.forecast import ForecastKind, forecast  # noqa: E402
from bot.core.targets import Rule  # noqa: E402
from integrations.base import MetricPoint  # noqa: E402

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TOTAL = 100_000  # steps in each run
SECONDS_PER_STEP = 0.5
CUTS = (0.25, 0.50, 0.75)
NOISES = (0.002, 0.01, 0.03, 0.08)  # absolute, on curves spanning about 0.8; 0.08 is very noisy
REF_REPEATS = 20  # polyfit is too quick to time once


@dataclass(frozen=True)
class Curve:
    name: str
    f: Callable[[np.ndarray], np.ndarray]
    op: str
    asymptote: float


CURVES = (
    Curve("power law", lambda s: 0.95 - 0.85 * ((s + 2000) / 2000) ** -0.6, ">=", 0.95),
    Curve("exponential", lambda s: 0.92 - 0.82 * np.exp(-s / 25_000), ">=", 0.92),
    Curve("loss", lambda s: 0.25 + 2.0 * ((s + 1000) / 1000) ** -0.5, "<=", 0.25),
    # a step learning-rate schedule: the curve jumps up at half the run, which neither model has
    Curve("lr step at 50%", lambda s: 0.85 - 0.75 * np.exp(-s / 15_000)
          + 0.06 * (s > 50_000) * (1 - np.exp(-np.maximum(s - 50_000, 0) / 2000)), ">=", 0.91),
)


def true_crossing(curve: Curve, target: float) -> int | None:
    """First step (on a fine grid up to 50x the run) where the noiseless curve meets the target."""
    steps = np.arange(1, 50 * TOTAL, 10)
    values = curve.f(steps.astype(float))
    hit = values >= target if curve.op == ">=" else values <= target
    return int(steps[np.argmax(hit)]) if hit.any() else None


def targets(curve: Curve) -> list[float]:
    """Reached at 30/60/90 % of the run, at 3x the run (after its end), and never."""
    at = [float(curve.f(np.array([fr * TOTAL]))[0]) for fr in (0.3, 0.6, 0.9, 3.0)]
    beyond = curve.asymptote + (0.02 if curve.op == ">=" else -0.02)
    return [round(t, 4) for t in at] + [beyond]


def history(curve: Curve, noise: float, seed: int, points: int) -> list[MetricPoint]:
    rng = np.random.default_rng(seed)
    steps = np.linspace(TOTAL / points, TOTAL, points).astype(int)
    values = curve.f(steps.astype(float)) + rng.normal(0, noise, points)
    return [MetricPoint(int(s), float(v), T0 + timedelta(seconds=float(s) * SECONDS_PER_STEP))
            for s, v in zip(steps, values, strict=True)]


def percentile(values: list[float], q: float) -> float | None:
    return float(np.quantile(values, q)) if values else None


def run(seeds: int, points: int) -> dict:
    per_cut: dict[float, dict[str, list]] = {c: _bins() for c in CUTS}
    per_curve: dict[str, dict[str, list]] = {c.name: _bins() for c in CURVES}
    reached_at_cut = 0
    for curve in CURVES:
        for target in targets(curve):
            truth = true_crossing(curve, target)
            for noise in NOISES:
                for seed in range(seeds):
                    full = history(curve, noise, seed, points)
                    for cut in CUTS:
                        seen = [p for p in full if p.step <= cut * TOTAL]
                        rule = Rule("metric", curve.op, target)
                        now = seen[-1].at
                        began = time.process_time()
                        result = forecast(seen, rule, now, total_steps=TOTAL)
                        elapsed = time.process_time() - began
                        began = time.process_time()
                        for _ in range(REF_REPEATS):
                            np.polyfit([p.step for p in seen], [p.value for p in seen], 2)
                        ref = (time.process_time() - began) / REF_REPEATS
                        if result.kind is ForecastKind.REACHED:
                            reached_at_cut += 1
                        for stats in (per_cut[cut], per_curve[curve.name]):
                            _record(stats, result, truth, seen[-1].step, elapsed, ref)
    return {
        "runs_per_cut": len(per_cut[CUTS[0]]["t"]), "points_per_full_run": points,
        "already_at_target_at_cut": reached_at_cut,
        "cuts": {f"{int(cut * 100)}%": _summary(s) for cut, s in per_cut.items()},
        "curves": {name: _summary(s) for name, s in per_curve.items()},
    }


def _bins() -> dict[str, list]:
    return {"err": [], "cover": [], "unknown": [], "call": [], "t": [], "ref": []}


def _record(stats: dict[str, list], result, truth: int | None, last_step: int, elapsed: float, ref: float) -> None:  # noqa: ANN001
    stats["t"].append(elapsed)
    stats["ref"].append(ref)
    if result.kind is ForecastKind.REACHED:
        return
    stats["unknown"].append(result.kind is ForecastKind.UNKNOWN)
    if result.kind is ForecastKind.UNKNOWN:
        return
    truly = truth is not None and truth <= TOTAL
    called = result.kind is ForecastKind.REACH and result.step is not None and result.step <= TOTAL
    stats["call"].append(called == truly)
    if truly and result.kind is ForecastKind.REACH and truth > last_step:
        high = result.step_high if result.step_high is not None else float("inf")
        stats["err"].append(abs(result.step - truth) / truth)
        stats["cover"].append(result.step_low <= truth <= high)


def _summary(s: dict[str, list]) -> dict:
    median_t, ref_t = statistics.median(s["t"]), statistics.median(s["ref"])
    return {
        "crossing_rel_error_median": _round(percentile(s["err"], 0.5)),
        "crossing_rel_error_p90": _round(percentile(s["err"], 0.9)),
        "crossing_cases": len(s["err"]),
        "range_covers_truth": _round(_share(s["cover"])),
        "not_enough_data": _round(_share(s["unknown"])),
        "call_correct": _round(_share(s["call"])),
        "fit_ms_median": round(median_t * 1000, 2),
        "fit_ms_p90": round(float(np.quantile(s["t"], 0.9)) * 1000, 2),
        "polyfit_ms_median": round(ref_t * 1000, 3),
        "ratio_to_polyfit": round(median_t / ref_t, 1),
    }


def _share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--points", type=int, default=200, help="evaluations over a whole run")
    args = parser.parse_args()
    print(json.dumps(run(args.seeds, args.points), indent=2))


if __name__ == "__main__":
    main()
