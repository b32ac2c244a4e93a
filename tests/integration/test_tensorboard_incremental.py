"""Incremental reading: big logs, a writer mid-flush, a file not flushed yet, a replaced file.

These append to one events file between polls, so they use tensorboardX's synchronous
EventsWriter (what SummaryWriter's background thread writes through): SummaryWriter.flush()
does not wait for its queue, and tests must not sleep until it drains.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time
from tensorboardX.event_file_writer import EventsWriter
from tensorboardX.proto.event_pb2 import Event
from tensorboardX.summary import scalar

from integrations.base import RunState
from integrations.tensorboard import reader
from tests.integration.test_tensorboard_tracker import NOW, T0, make_tracker, set_mtime

BIG = 50_000


class OpenLog:
    """An events file that stays open, like a running job's."""

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        with freeze_time(T0):
            self.writer = EventsWriter(str(folder / "events"))
        (self.path,) = folder.glob("events.out.tfevents.*")

    def log(self, steps: range, tag: str = "loss") -> None:
        for step in steps:
            at = T0.timestamp() + step
            self.writer.write_event(Event(wall_time=at, step=step, summary=scalar(tag, step / 4)))
        self.writer.flush()


@pytest.fixture
def accumulators_made(monkeypatch):
    """Counts EventAccumulators built: a reused one reads on from where it stopped."""
    made = []

    class Counting(reader.EventAccumulator):
        def __init__(self, path, **kwargs):
            made.append(path)
            super().__init__(path, **kwargs)

    monkeypatch.setattr(reader, "EventAccumulator", Counting)
    return made


def test_large_log_is_read_incrementally(tmp_path, accumulators_made):
    log = OpenLog(tmp_path / "big")
    log.log(range(BIG))
    tracker = make_tracker(tmp_path, total_steps=str(BIG + 99))

    first = tracker.fetch_runs(["big"])["big"]
    log.log(range(BIG, BIG + 100))
    second = tracker.fetch_runs(["big"])["big"]
    history = tracker.metric_history(["big"], "loss", start_step=BIG - 5)["big"]

    assert (first.step, first.state) == (BIG - 1, RunState.RUNNING)
    assert (second.step, second.state) == (BIG + 99, RunState.FINISHED)
    assert second.metrics == {"loss": (BIG + 99) / 4}
    assert [(p.step, p.value) for p in history] == [(s, s / 4) for s in range(BIG - 5, BIG + 100)]
    assert len(tracker.metric_history(["big"], "loss")["big"]) == BIG + 100
    assert accumulators_made == [str(log.path)]  # one reader for the file, kept across polls


def test_partially_written_last_record_is_picked_up_when_complete(tmp_path):
    log = OpenLog(tmp_path / "run")
    log.log(range(3))
    whole = log.path.read_bytes()
    log.log(range(3, 4))
    record = log.path.read_bytes()[len(whole) :]
    log.path.write_bytes(whole + record[:7])  # the writer got 7 bytes of step 3 out so far
    tracker = make_tracker(tmp_path)

    assert tracker.fetch_runs(["run"])["run"].step == 2
    with open(log.path, "ab") as rest:
        rest.write(record[7:])
    assert tracker.fetch_runs(["run"])["run"].step == 3


def test_nothing_flushed_yet_is_a_running_run_without_data(tmp_path):
    log = OpenLog(tmp_path / "run")  # writers buffer up to flush_secs (120 s) before writing
    set_mtime(log.path, T0 + timedelta(minutes=1))
    tracker = make_tracker(tmp_path)

    snap = tracker.fetch_runs(["run"])["run"]

    assert os.path.getsize(log.path) == 0
    assert (snap.state, snap.step, snap.metrics, snap.started_at) == (RunState.RUNNING, None, {}, None)
    assert snap.heartbeat_at == T0 + timedelta(minutes=1)
    assert [s.ref for s in tracker.list_runs(".", since=T0)] == ["run"]  # judged by the file's mtime
    assert tracker.list_runs(".", since=NOW) == []


def test_replaced_file_is_read_again_from_the_start(tmp_path):
    log = OpenLog(tmp_path / "run")
    log.log(range(10))
    tracker = make_tracker(tmp_path)
    assert tracker.fetch_runs(["run"])["run"].step == 9

    log.writer.close()
    os.remove(log.path)
    again = OpenLog(tmp_path / "run")  # same second, same host: same file name, shorter content
    again.log(range(2), tag="acc")

    snap = tracker.fetch_runs(["run"])["run"]
    assert (snap.step, snap.metrics) == (1, {"acc": 0.25})


def test_file_replaced_by_a_bigger_copy_is_read_again(tmp_path):
    log = OpenLog(tmp_path / "run")
    log.log(range(3))
    tracker = make_tracker(tmp_path)
    assert tracker.fetch_runs(["run"])["run"].step == 2

    staging = OpenLog(tmp_path / "staging")  # rsync writes a temporary file, then renames it
    staging.log(range(100), tag="acc")
    os.replace(staging.path, log.path)

    snap = tracker.fetch_runs(["run"])["run"]
    assert (snap.step, snap.metrics) == (99, {"acc": 24.75})
