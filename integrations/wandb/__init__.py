"""Weights & Biases: runs read through the public GraphQL API."""

from integrations.wandb.tracker import WandbTracker

Tracker = WandbTracker
KIND = "wandb"

__all__ = ["KIND", "Tracker", "WandbTracker"]
