"""TensorboardTracker: runs read straight from TensorBoard log folders on a local or mounted disk."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from integrations.base import ConnectionInfo, MetricPoint, RunSnapshot, RunState, TrackerError
from integrations.outbound import DEFAULT, check_log_root, inside_root
from integrations.tensorboard.paths import (
    canonical_ref,
    events_files,
    find_run_refs,
    folder_of,
    has_done_marker,
    parent_ref,
    root_from_url,
)
from integrations.tensorboard.reader import EventFileCache, FileSummary, as_logged, merge_restarts
from integrations.tensorboard.state import infer_state, parse_total_steps, total_steps_for


def utcnow() -> datetime:
    return datetime.now(UTC)


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


class TensorboardTracker:
    """One log root. Keep the instance between polls: it caches a reader per events file."""

    def __init__(self, conn: ConnectionInfo, clock: Callable[[], datetime] = utcnow):
        # Symlinks and `..` resolved, then held to READYBOT_TENSORBOARD_ROOTS and off system folders.
        self.root = check_log_root(root_from_url(conn.url), conn.outbound or DEFAULT)
        self._totals = parse_total_steps(conn.options)
        self._clock = clock
        self._files = EventFileCache()

    def check(self) -> None:
        self._require_root()
        try:
            with os.scandir(self.root):
                pass
        except PermissionError as exc:
            raise TrackerError(f"TensorBoard log root {self.root} is not readable", permanent=True) from exc
        except OSError as exc:
            raise TrackerError(f"TensorBoard log root {self.root} cannot be listed: {exc.strerror}") from exc

    def fetch_runs(self, refs: Sequence[str]) -> dict[str, RunSnapshot]:
        wanted = {ref: canonical_ref(ref) for ref in refs}  # refuse every bad ref before any I/O
        self._require_root()
        now = self._clock()
        found = {ref: self._snapshot(ref, path, now) for ref, path in wanted.items()}
        return {ref: snapshot for ref, snapshot in found.items() if snapshot is not None}

    def list_runs(self, experiment: str, since: datetime | None = None) -> list[RunSnapshot]:
        folder_ref = canonical_ref(experiment)
        self._require_root()
        folder = folder_of(self.root, folder_ref)
        if not folder.is_dir():
            raise TrackerError(f"no experiment folder {folder_ref!r} under the log root", permanent=True)
        now = self._clock()
        refs = [
            ref
            for ref in find_run_refs(self.root, folder)
            if since is None or self._started_since(ref, since)
        ]
        snapshots = (self._snapshot(ref, ref, now) for ref in refs)
        return [snapshot for snapshot in snapshots if snapshot is not None]

    def metric_history(
        self, refs: Sequence[str], key: str, start_step: int | None = None
    ) -> dict[str, list[MetricPoint]]:
        wanted = {ref: canonical_ref(ref) for ref in refs}
        self._require_root()
        history = {}
        for ref, path in wanted.items():
            if not inside_root(folder_of(self.root, path), self.root):
                continue  # a symlink out of the root: not a run of this connection
            files = events_files(folder_of(self.root, path))
            if not files:
                continue
            points = merge_restarts([self._files.scalars(file, key) for file in files])
            history[ref] = [
                MetricPoint(p.step, as_logged(p.value), _utc(p.wall_time))
                for p in points
                if start_step is None or p.step >= start_step
            ]
        return history

    def _require_root(self) -> None:
        try:
            is_dir = stat.S_ISDIR(os.stat(self.root).st_mode)
        except FileNotFoundError as exc:
            # Usually a network mount that is briefly gone: the runs are stale, not failed.
            raise TrackerError(f"TensorBoard log root {self.root} is missing (unmounted?)") from exc
        except PermissionError as exc:
            raise TrackerError(f"TensorBoard log root {self.root} is not readable", permanent=True) from exc
        except OSError as exc:  # ESTALE, EIO, timeouts: network filesystems recover on their own
            raise TrackerError(f"TensorBoard log root {self.root} cannot be read: {exc.strerror}") from exc
        if not is_dir:
            raise TrackerError(f"TensorBoard log root {self.root} is not a directory", permanent=True)

    def _started_since(self, ref: str, since: datetime) -> bool:
        """Cheap pre-filter for list_runs: reads one event per run, not the whole log."""
        files = events_files(folder_of(self.root, ref))
        first = next((t for t in map(self._files.first_wall_time, files) if t is not None), None)
        if first is None and files:  # nothing flushed yet: the file's birth is the best guess
            first = _mtime(files[0])
        return first is not None and _utc(first) >= since

    def _snapshot(self, ref: str, path: str, now: datetime) -> RunSnapshot | None:
        folder = folder_of(self.root, path)
        if not inside_root(folder, self.root):
            return None  # a symlink out of the root: not a run of this connection
        files = events_files(folder)
        self._files.forget_missing(folder, files)
        summaries = [s for s in map(self._files.summary, files) if s is not None]
        if not summaries:
            return None
        step = summaries[-1].max_step  # the newest file only: after a restart steps may go back
        total = total_steps_for(self._totals, path)
        state = infer_state(step, total, has_done_marker(folder))
        heartbeat = _heartbeat(summaries, now)
        started = next((s.first_wall_time for s in summaries if s.first_wall_time is not None), None)
        return RunSnapshot(
            ref=ref,
            state=state,
            name=folder.name,
            experiment=parent_ref(path),
            step=step,
            total_steps=total,
            # Oldest file first, so a tag the restarted writer has re-logged takes its newer value.
            metrics={tag: as_logged(p.value) for s in summaries for tag, p in s.latest.items()},
            params={"restarts": str(len(files) - 1)},
            started_at=_utc(started) if started is not None else None,
            ended_at=heartbeat if state is RunState.FINISHED else None,
            heartbeat_at=heartbeat,
            url=folder.as_uri(),
        )


def _heartbeat(summaries: Sequence[FileSummary], now: datetime) -> datetime:
    """Newest sign of life: an event's wall_time or a flush (file mtime), whichever is later.

    Capped at `now`: a mount whose server clock runs ahead would otherwise keep a dead run
    looking alive until real time caught up.
    """
    times = [s.mtime for s in summaries] + [
        s.last_wall_time for s in summaries if s.last_wall_time is not None
    ]
    return min(_utc(max(times)), now)


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None
