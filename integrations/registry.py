"""The explicit registry of tracker kinds: adding a tracker is adding a folder and a line here."""

from __future__ import annotations

import importlib

from integrations.base import ConnectionInfo, Tracker

KINDS: dict[str, str] = {
    "mlflow": "integrations.mlflow",
    "wandb": "integrations.wandb",
    "comet": "integrations.comet",
    "tensorboard": "integrations.tensorboard",
    "push": "integrations.push",
}
POLLED = ("mlflow", "wandb", "comet", "tensorboard")  # push runs report themselves
# Kinds a run can be stopped on from Slack: W&B and MLflow trackers take the request
# (Stoppable.stop_run); a pushed run hears it in its next push answer. Comet's REST API and a
# TensorBoard log folder have no way to tell a running process anything.
STOPPABLE = ("wandb", "mlflow", "push")


def tracker_for(conn: ConnectionInfo) -> Tracker:
    try:
        module = importlib.import_module(KINDS[conn.kind])
    except KeyError:
        raise ValueError(f"unknown tracker kind {conn.kind!r}") from None
    return module.Tracker(conn)
