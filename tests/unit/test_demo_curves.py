"""The demo's simulated runs look like training: noisy, saturating, one diverging to NaN."""

from __future__ import annotations

import dataclasses
import math
import statistics

from bot.sandbox import curves
from bot.sandbox.curves import SCENARIO, acc_trend, loss_trend, metrics_at, report_at, step_at

RUNS = {run.ref: run for run in SCENARIO}
FINISHER, DIVERGER, STALLER, LONG = (RUNS[r] for r in ("resnet50-finetune", "vit-lr3e-3", "bert-distill",
                                                        "llama-pretrain"))


def steps(run, n=50):  # noqa: ANN001, ANN201
    end = run.diverge_at or run.total_steps
    return [end * i // n for i in range(n + 1)]


def test_loss_falls_and_accuracy_rises_monotonically_then_saturate():
    for run in (FINISHER, STALLER, LONG):
        losses = [loss_trend(run, s) for s in steps(run)]
        accs = [acc_trend(run, s) for s in steps(run)]
        assert all(a > b for a, b in zip(losses, losses[1:], strict=False))
        assert all(a < b for a, b in zip(accs, accs[1:], strict=False))
        # Saturating: the first tenth of training moves the loss more than the whole last half.
        tenth, half = run.total_steps // 10, run.total_steps // 2
        if run is not LONG:  # the long run is far from done by design
            assert loss_trend(run, 0) - loss_trend(run, tenth) > loss_trend(run, half) - loss_trend(run, run.total_steps)
            assert loss_trend(run, run.total_steps) < run.loss_floor * 1.15  # close to its floor


def test_metrics_are_noisy_but_follow_the_trend_and_repeat():
    samples = [metrics_at(FINISHER, s)["loss"] / loss_trend(FINISHER, s) - 1 for s in range(1000, 1200)]
    assert 0.005 < statistics.stdev(samples) < 0.05  # noise of a few percent
    assert abs(statistics.mean(samples)) < 0.01  # around the trend
    assert metrics_at(FINISHER, 1234) == metrics_at(FINISHER, 1234)  # seeded: every demo looks the same
    assert all(0.0 <= metrics_at(FINISHER, s)["val_acc"] <= 1.0 for s in range(0, 3000, 7))


def test_the_target_run_reaches_the_target_before_it_finishes():
    op, value = curves.TARGET.split()[1:]
    assert curves.TARGET_RUN == FINISHER.ref and op == ">="
    crossed = next(s for s in range(FINISHER.total_steps) if metrics_at(FINISHER, s)["val_acc"] >= float(value))
    assert crossed < FINISHER.total_steps * 0.9
    last = report_at(FINISHER, 10_000)
    assert last["state"] == "finished" and last["step"] == FINISHER.total_steps


def test_the_diverging_run_blows_up_to_nan_and_fails():
    rising = [loss_trend(DIVERGER, s) for s in range(DIVERGER.diverge_at, DIVERGER.nan_at, 50)]
    assert all(a < b for a, b in zip(rising, rising[1:], strict=False)) and rising[-1] > 10 * rising[0]
    assert math.isnan(metrics_at(DIVERGER, DIVERGER.nan_at)["loss"])
    assert math.isfinite(metrics_at(DIVERGER, DIVERGER.nan_at - 1)["loss"])
    t_nan = DIVERGER.start + DIVERGER.nan_at / DIVERGER.steps_per_second
    final = report_at(DIVERGER, t_nan + 1)
    assert final["state"] == "failed" and final["metrics"]["loss"] == "NaN"  # how JSON carries NaN
    assert report_at(DIVERGER, t_nan - 1)["state"] == "running"


def test_the_stalling_run_is_silent_long_enough_and_then_resumes():
    begin, end = STALLER.pause
    assert end - begin > 60 + 10  # the demo's one-minute stall window, plus a poll
    assert report_at(STALLER, begin - 1) is not None
    assert report_at(STALLER, (begin + end) / 2) is None
    assert step_at(STALLER, end) == step_at(STALLER, begin)  # a hang makes no progress
    resumed = report_at(STALLER, end + 1)
    assert resumed["state"] == "running" and resumed["step"] > step_at(STALLER, begin)


def test_the_long_run_needs_hours_and_every_run_says_it_is_the_demo():
    assert LONG.total_steps / LONG.steps_per_second > 3 * 3600
    assert report_at(LONG, 600)["state"] == "running"
    assert report_at(dataclasses.replace(FINISHER, start=5), 4) is None  # not started yet
    assert {report_at(run, 10)["experiment"] for run in SCENARIO} == {"demo"}
