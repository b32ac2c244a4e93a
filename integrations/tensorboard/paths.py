"""Where runs live: the log root, run refs, and the events files inside a run folder.

A run ref is a folder path relative to the log root (`.` is the root itself). Refs arrive from
Slack users, so anything that could leave the root is refused before the filesystem is touched.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from tensorboard.backend.event_processing.io_wrapper import IsSummaryEventsFile

from integrations.base import TrackerError

# Written by the training job (or its launcher) when it exits cleanly; `_SUCCESS` is the Hadoop
# and Spark convention that some pipelines already produce.
DONE_MARKERS = ("DONE", "_SUCCESS")


def root_from_url(url: str) -> Path:
    """The log root from an absolute path or a `file://` URL."""
    path = url
    if url.startswith("file:"):
        parsed = urlparse(url)
        if parsed.netloc not in ("", "localhost"):
            raise TrackerError(f"file URL must point at this machine, not {parsed.netloc!r}", permanent=True)
        path = unquote(parsed.path)
    if not os.path.isabs(path):
        raise TrackerError("TensorBoard log root must be an absolute path or a file:// URL", permanent=True)
    return Path(os.path.normpath(path))


def canonical_ref(ref: str) -> str:
    """`a//b/./c/` -> `a/b/c`, `` -> `.`; refuses absolute paths and `..` (permanent error)."""
    # A backslash is an ordinary file-name character on POSIX, but it is a separator to the
    # user who typed it on Windows; refusing it is simpler than guessing which they meant.
    if "\x00" in ref or "\\" in ref or ref.startswith("/"):
        raise TrackerError(f"run ref {ref!r} must be a relative path inside the log root", permanent=True)
    parts = [part for part in ref.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise TrackerError(f"run ref {ref!r} must not contain '..'", permanent=True)
    return "/".join(parts) or "."


def folder_of(root: Path, ref: str) -> Path:
    return root if ref == "." else root.joinpath(*ref.split("/"))


def parent_ref(ref: str) -> str | None:
    """The experiment a run belongs to: its parent folder (None for the root run)."""
    if ref == ".":
        return None
    parent, _, _ = ref.rpartition("/")
    return parent or "."


def events_files(folder: Path) -> list[Path]:
    """Events files of one run, oldest first; [] if the folder is gone."""
    try:
        entries = [e for e in os.scandir(folder) if IsSummaryEventsFile(e.name) and e.is_file()]
    except (FileNotFoundError, NotADirectoryError):
        return []  # not a run (any more): the ref is simply absent
    except OSError as exc:  # permissions or a flaky mount: say so rather than report the run gone
        raise TrackerError(f"run folder {folder} cannot be listed: {exc.strerror}") from exc
    return [Path(e.path) for e in sorted(entries, key=_creation_order)]


def _creation_order(entry: os.DirEntry) -> tuple[float, str]:
    # Writers put their start time in the name (`events.out.tfevents.<unix secs>.<host>...`);
    # mtime would reorder a restarted run whenever the older file gets a late final flush.
    parts = entry.name.split(".")
    stamp = parts[3] if len(parts) > 3 else ""
    # ASCII digits only: '²'.isdigit() is true, yet float('²') raises.
    return (float(stamp) if stamp.isascii() and stamp.isdigit() else entry.stat().st_mtime, entry.name)


def has_done_marker(folder: Path) -> bool:
    return any((folder / marker).exists() for marker in DONE_MARKERS)


def find_run_refs(root: Path, folder: Path) -> list[str]:
    """Refs of every folder at or below `folder` that holds events files, as TensorBoard shows them.

    Symlinked folders are not followed: a link loop on a shared mount would never end.
    """
    refs = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        if any(IsSummaryEventsFile(name) for name in filenames):
            refs.append(Path(dirpath).relative_to(root).as_posix())  # the root itself is "."
    return sorted(refs)
