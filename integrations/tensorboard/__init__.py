"""TensorBoard log folders on a local or mounted filesystem, read without a TensorBoard server.

The reader needs the `tensorboard` package, an optional extra so the install stays light for
teams that never track a log folder. Without it the kind still exists: every call answers with
the command that installs it, as a permanent TrackerError the commands already show to users.
"""

from __future__ import annotations

from datetime import datetime

from integrations.base import ConnectionInfo, TrackerError

KIND = "tensorboard"
INSTALL = "pip install 'readybot[tensorboard]'"


def Tracker(conn: ConnectionInfo, **kwargs):  # noqa: ANN003, ANN201, N802 - the registry's `module.Tracker(conn)`
    try:
        from integrations.tensorboard.tracker import TensorboardTracker
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "tensorboard":
            raise
        return ReaderMissing()
    return TensorboardTracker(conn, **kwargs)


class ReaderMissing:
    """Stands in for the tracker when `tensorboard` is not installed. It fails on use, not on
    construction: callers build trackers outside their error handling and call them inside it."""

    @staticmethod
    def _missing() -> TrackerError:
        return TrackerError(f"the TensorBoard reader is not installed on this readybot; install it with "
                            f"`{INSTALL}` and restart readybot", permanent=True)

    def check(self) -> None:
        raise self._missing()

    def fetch_runs(self, refs):  # noqa: ANN001, ANN201
        raise self._missing()

    def list_runs(self, experiment: str, since: datetime | None = None):  # noqa: ANN201
        raise self._missing()

    def metric_history(self, refs, key: str, start_step: int | None = None):  # noqa: ANN001, ANN201
        raise self._missing()


__all__ = ["INSTALL", "KIND", "ReaderMissing", "Tracker"]
