"""Run state for a log folder, which has no status of its own: "finished" is inferred.

A log folder never says "failed" or "killed", and this module never says "stalled" either: the
core derives stalled from the age of `heartbeat_at`. Note for the core: tensorboardX and
torch.utils.tensorboard flush every 120 s by default (`flush_secs`), so a healthy run can look
two minutes quiet (plus the poll interval) before any new event reaches the disk.
"""

from __future__ import annotations

from collections.abc import Mapping

from integrations.base import RunState, TrackerError
from integrations.tensorboard.paths import canonical_ref

OPTION = "total_steps"


def parse_total_steps(options: Mapping[str, str]) -> dict[str | None, int]:
    """`total_steps` (key None, for every run) and `total_steps.<ref>` (one run) from the options.

    Validated once, up front, so a typo fails at `/ready connect` rather than silently never
    finishing a run.
    """
    totals: dict[str | None, int] = {}
    for key, value in options.items():
        if key == OPTION:
            ref = None
        elif key.startswith(OPTION + "."):
            ref = canonical_ref(key.removeprefix(OPTION + "."))
        else:
            continue
        try:
            total = int(value)
        except ValueError:
            total = 0
        if total <= 0:
            raise TrackerError(f"option {key} must be a positive whole number, got {value!r}", permanent=True)
        totals[ref] = total
    return totals


def total_steps_for(totals: Mapping[str | None, int], ref: str) -> int | None:
    return totals.get(ref, totals.get(None))


def infer_state(step: int | None, total_steps: int | None, done_marker: bool) -> RunState:
    """Finished when a DONE marker exists or the newest step reaches the expected total.

    `total_steps` is compared with the step the run logs last, as written: a loop that logs
    steps 0..N-1 should be configured with N-1, or write a DONE marker instead.
    """
    if done_marker:
        return RunState.FINISHED
    if total_steps is not None and step is not None and step >= total_steps:
        return RunState.FINISHED
    return RunState.RUNNING
