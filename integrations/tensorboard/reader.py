"""Incremental reading of events files, one cached EventAccumulator per file.

A fresh EventAccumulator re-parses the whole file; a kept one resumes at the byte where its last
`Reload()` stopped. Measured on a 50k-point scalar log (2.2 MB, pure-Python reader, no TF): a
fresh read takes ~0.6 s and grows linearly with the log; a poll that finds 100 new points takes
~2 ms; a poll that finds nothing ~0.4 ms (the size check below skips the read altogether).

One accumulator per *file*, not per run folder: a run folder with several files is a restarted
run, and its files must stay apart so the newest one decides the current step.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator, ScalarEvent
from tensorboard.compat import tf

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileSummary:
    """What one events file says about its run, cheap to build on every poll."""

    path: Path
    mtime: float
    first_wall_time: float | None  # the writer's file_version event: when the writer started
    last_wall_time: float | None
    latest: dict[str, ScalarEvent] = field(default_factory=dict)  # tag -> newest written point

    @property
    def max_step(self) -> int | None:
        return max((point.step for point in self.latest.values()), default=None)


@dataclass
class _Entry:
    accumulator: EventAccumulator
    size: int = -1
    inode: int | None = None


class EventFileCache:
    """Accumulators for the most recently used events files (LRU, bounded: each holds every point)."""

    def __init__(self, max_files: int = 256):
        self._max_files = max_files
        self._entries: OrderedDict[Path, _Entry] = OrderedDict()
        self._lock = threading.Lock()  # poll jobs and Slack handlers may share one tracker

    def summary(self, path: Path) -> FileSummary | None:
        """Read what is new in `path`; None if it vanished or cannot be read right now."""
        with self._lock:
            fresh = self._fresh(path)
            return _summarise(path, fresh[1], fresh[0]) if fresh else None

    def scalars(self, path: Path, tag: str) -> list[ScalarEvent]:
        """Every point of `tag` in `path`, in the order written."""
        with self._lock:
            fresh = self._fresh(path)
            if fresh is None or tag not in fresh[0].Tags()["scalars"]:
                return []
            return fresh[0].Scalars(tag)

    def first_wall_time(self, path: Path) -> float | None:
        """When the writer of `path` started; reads one event, not the whole file."""
        with self._lock:
            try:
                return self._entry(path).accumulator.FirstEventTimestamp()
            except (ValueError, OSError, tf.errors.OpError):
                return None  # empty (nothing flushed yet) or unreadable

    def forget_missing(self, folder: Path, present: Sequence[Path]) -> None:
        """Drop accumulators of files that were deleted from `folder`."""
        with self._lock:
            for path in [p for p in self._entries if p.parent == folder and p not in present]:
                del self._entries[path]

    def _entry(self, path: Path) -> _Entry:
        entry = self._entries.get(path)
        if entry is None:
            entry = _Entry(EventAccumulator(str(path), size_guidance={"scalars": 0}))
            self._entries[path] = entry
            while len(self._entries) > self._max_files:
                self._entries.popitem(last=False)
        self._entries.move_to_end(path)
        return entry

    def _fresh(self, path: Path) -> tuple[EventAccumulator, float] | None:
        """The accumulator of `path` with everything new read in, and the file's mtime."""
        try:
            stat = os.stat(path)
            entry = self._entry(path)
            if stat.st_size < entry.size or entry.inode not in (None, stat.st_ino):
                # Replaced: by a copy (rsync renames a new inode into place) or by a writer that
                # started in the same second (tensorboardX names files by the second) and
                # truncated it. The read offset means nothing in the new content.
                del self._entries[path]
                entry = self._entry(path)
            entry.inode = stat.st_ino
            if stat.st_size != entry.size:
                # A partial last record (writer mid-flush) is left for a later Reload() to
                # complete, so an unchanged size means there is nothing new to read.
                entry.accumulator.Reload()
                entry.size = stat.st_size
            return entry.accumulator, stat.st_mtime
        except (OSError, tf.errors.OpError) as exc:
            # Deleted between listing and reading, or a flaky mount: skip the file this poll.
            log.warning("skipping events file %s: %s", path, exc)
            self._entries.pop(path, None)
            return None


def _summarise(path: Path, mtime: float, acc: EventAccumulator) -> FileSummary:
    latest = {}
    for tag in acc.Tags()["scalars"]:
        points = acc.Scalars(tag)
        if points:
            latest[tag] = points[-1]
    try:
        first = acc.FirstEventTimestamp()
    except ValueError:  # nothing flushed yet: the writer buffers for up to flush_secs
        first = None
    # EventAccumulator only tracks the newest wall_time for pre-2016 files, so take it from the
    # scalars; the file's mtime (used by the caller) covers events of other kinds.
    wall_times = [p.wall_time for p in latest.values()] + ([first] if first is not None else [])
    return FileSummary(path, mtime, first, max(wall_times, default=None), latest)


def merge_restarts(series_per_file: Sequence[Sequence[ScalarEvent]]) -> list[ScalarEvent]:
    """One tag's points across a restarted run's files (oldest file first), ascending by step.

    A restart resumes from a checkpoint, so a newer file re-logs steps the older one already
    had; the older points from the newer file's first step on are orphans and are dropped
    (TensorBoard's own purge rule for restarts).
    """
    merged: list[ScalarEvent] = []
    for points in series_per_file:
        if points:
            first_step = points[0].step
            merged = [p for p in merged if p.step < first_step] + list(points)
    return sorted(merged, key=lambda p: p.step)


def as_logged(value: float) -> float:
    """The value the training code logged, not its float32 storage: 0.9 is stored as 0.89999998,
    which would miss a `>= 0.9` target. The shortest float32 repr is the logged decimal."""
    return float(str(np.float32(value)))
