"""Runs that report themselves: training code POSTs updates to /api/v1/runs/<run-ref>.

This module translates the pushed JSON into a RunSnapshot at the edge; the web layer
feeds it into the same pipeline as polled snapshots.
"""

from integrations.push.translate import PushError, parse_body, snapshot_from_push

KIND = "push"


class Tracker:
    """Nothing to poll: pushed runs arrive over HTTP. Their metric history is what they pushed,
    which the bot keeps itself and hands in as `history(refs, key, start_step)`."""

    def __init__(self, conn, history=None):  # noqa: ANN001
        self.conn = conn
        self.history = history

    def check(self) -> None:
        return None

    def fetch_runs(self, refs):  # noqa: ANN001, ANN201
        return {}

    def list_runs(self, experiment, since=None):  # noqa: ANN001, ANN201
        return []

    def metric_history(self, refs, key, start_step=None):  # noqa: ANN001, ANN201
        return self.history(refs, key, start_step) if self.history else {}


__all__ = ["KIND", "PushError", "Tracker", "parse_body", "snapshot_from_push"]
