"""Comet: experiments read through REST API v2."""

from integrations.comet.tracker import CometTracker

Tracker = CometTracker
KIND = "comet"

__all__ = ["KIND", "CometTracker", "Tracker"]
