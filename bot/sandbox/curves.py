"""The demo's simulated training runs: what each one reports at a given moment. Pure: no HTTP,
no clock; `t` is seconds of demo time since the simulation started.

Curves look like training: loss decays exponentially toward a floor and accuracy rises toward a
ceiling (both saturate), each with seeded noise so every demo looks the same. One run reaches
the channel's target and finishes, one diverges to a NaN loss and fails, one hangs long enough
for the stall detector and then resumes, and one is far too long for the review it belongs to.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

EXPERIMENT = "demo"  # every simulated run says where it comes from


@dataclass(frozen=True)
class SimRun:
    ref: str
    total_steps: int
    steps_per_second: float  # in demo time
    tau: float  # steps over which loss falls to ~1/e of its way to the floor
    start: float = 0.0  # demo seconds after the simulation starts
    loss0: float = 2.3
    loss_floor: float = 0.25
    acc0: float = 0.1
    acc_ceiling: float = 0.93
    noise: float = 0.02  # relative noise on loss, absolute on accuracy
    seed: int = 0
    diverge_at: int | None = None  # step from which the loss blows up
    nan_at: int | None = None  # first step whose loss is NaN; the run fails at once
    pause: tuple[float, float] | None = None  # demo seconds (from, to) without a report: a hang
    owner: str = ""  # as the training script reports it: the email the sandbox users have


# The schedule fits in two minutes at speed 1 with the demo's one-minute stall window.
SCENARIO: tuple[SimRun, ...] = (
    SimRun("resnet50-finetune", total_steps=3000, steps_per_second=50, tau=700, seed=1, owner="alice@example.com"),
    SimRun("vit-lr3e-3", total_steps=5000, steps_per_second=40, tau=400, seed=2,
           diverge_at=500, nan_at=1000, acc_ceiling=0.6, owner="bob@example.com"),
    SimRun("bert-distill", total_steps=4000, steps_per_second=30, tau=900, seed=3,
           pause=(20, 95), acc_ceiling=0.88, owner="chiara@example.com"),
    SimRun("llama-pretrain", total_steps=2_000_000, steps_per_second=120, tau=400_000, seed=4,
           loss0=10.5, loss_floor=2.1, acc0=0.0, acc_ceiling=0.55, owner="dmitri@example.com"),
)
TARGET_RUN, TARGET = "resnet50-finetune", "val_acc >= 0.9"
REVIEW_RUNS = ("resnet50-finetune", "llama-pretrain")


def step_at(run: SimRun, t: float) -> int:
    """Steps done by demo time t; none are done while the run hangs."""
    busy = max(0.0, t - run.start)
    if run.pause is not None:
        begin, end = run.pause
        busy -= max(0.0, min(t, end) - max(begin, run.start))
    return min(run.total_steps, int(busy * run.steps_per_second))


def loss_trend(run: SimRun, step: int) -> float:
    """Noiseless loss: exponential decay to the floor, then (diverging runs) exponential growth."""
    decay = run.loss_floor + (run.loss0 - run.loss_floor) * math.exp(-step / run.tau)
    if run.diverge_at is None or step <= run.diverge_at:
        return decay
    at_turn = loss_trend(run, run.diverge_at)
    return at_turn * math.exp((step - run.diverge_at) / 120)


def acc_trend(run: SimRun, step: int) -> float:
    """Noiseless accuracy: rises toward its ceiling as the loss falls."""
    step = min(step, run.diverge_at) if run.diverge_at is not None else step
    return run.acc_ceiling - (run.acc_ceiling - run.acc0) * math.exp(-step / run.tau)


def metrics_at(run: SimRun, step: int) -> dict[str, float]:
    """Loss and accuracy at a step, with noise that is the same for the same run and step."""
    rng = random.Random(run.seed * 1_000_003 + step)
    if run.nan_at is not None and step >= run.nan_at:
        loss = math.nan
    else:
        loss = loss_trend(run, step) * (1 + run.noise * rng.gauss(0, 1))
    acc = acc_trend(run, step) + run.noise / 4 * rng.gauss(0, 1)
    return {"loss": loss, "val_acc": min(1.0, max(0.0, acc))}


def report_at(run: SimRun, t: float) -> dict | None:
    """The push body the run's training script sends at demo time t, or None while it is silent
    (not started yet, or hung). The body names the run, its experiment and its state."""
    if t < run.start or (run.pause is not None and run.pause[0] <= t < run.pause[1]):
        return None
    step = step_at(run, t)
    state = "running"
    if run.nan_at is not None and step >= run.nan_at:
        step, state = run.nan_at, "failed"  # the script dies on its first NaN loss
    elif step >= run.total_steps:
        state = "finished"
    metrics = metrics_at(run, step)
    body = {"name": run.ref, "experiment": EXPERIMENT, "state": state, "step": step,
            "total_steps": run.total_steps, "metrics": {k: _json_number(v) for k, v in metrics.items()}}
    if run.owner:
        body["owner"] = run.owner
    return body


def _json_number(value: float) -> float | str:
    # JSON has no NaN: the push API takes the string, as training scripts send it.
    return value if math.isfinite(value) else "NaN"
