"""TensorboardTracker against real events files written by tensorboardX into tmp_path."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time
from tensorboardX import SummaryWriter

from integrations.base import ConnectionInfo, RunState, TrackerError
from integrations.tensorboard import KIND, Tracker

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=2)


def make_tracker(root: Path | str, **options: str) -> Tracker:
    return Tracker(ConnectionInfo(kind=KIND, name="tb", url=str(root), options=options), clock=lambda: NOW)


def write_run(folder: Path, steps: range, *, start: datetime = T0, extra_tag: str | None = None) -> Path:
    """One writer session: loss = step / 1000, an event every 10 s after `start`. Returns the file."""
    folder.mkdir(parents=True, exist_ok=True)
    # The writer stamps its file name and first event with time.time(); freezing it makes
    # started_at deterministic and keeps two sessions in one folder from sharing a file name.
    with freeze_time(start):
        writer = SummaryWriter(str(folder))
    for i, step in enumerate(steps, start=1):
        writer.add_scalar("loss", step / 1000, step, walltime=start.timestamp() + 10 * i)
        if extra_tag:
            writer.add_scalar(extra_tag, float(step), step, walltime=start.timestamp() + 10 * i)
    writer.close()
    (events_file,) = folder.glob(f"events.out.tfevents.{int(start.timestamp())}.*")
    return events_file


def set_mtime(path: Path, at: datetime) -> None:
    os.utime(path, (at.timestamp(), at.timestamp()))


def test_running_run(tmp_path):
    events = write_run(tmp_path / "exp" / "run-a", range(0, 51), extra_tag="acc")
    set_mtime(events, T0 + timedelta(minutes=30))  # a flush after the last event (T0 + 510 s)

    snap = make_tracker(tmp_path, total_steps="100").fetch_runs(["exp/run-a"])["exp/run-a"]

    assert snap.state is RunState.RUNNING
    assert (snap.ref, snap.name, snap.experiment) == ("exp/run-a", "run-a", "exp")
    assert (snap.step, snap.total_steps) == (50, 100)
    assert snap.metrics == {"loss": 0.05, "acc": 50.0}
    assert snap.params == {"restarts": "0"}
    assert snap.started_at == T0
    assert snap.heartbeat_at == T0 + timedelta(minutes=30)
    assert snap.ended_at is None
    assert snap.url == (tmp_path / "exp" / "run-a").as_uri()


def test_heartbeat_is_newest_event_when_mtime_is_older_and_never_in_the_future(tmp_path):
    old = write_run(tmp_path / "old", range(3))
    set_mtime(old, T0)  # e.g. a copy that kept the original mtime
    future = write_run(tmp_path / "future", range(3))
    set_mtime(future, NOW + timedelta(days=1))  # the file server's clock runs ahead

    snaps = make_tracker(tmp_path).fetch_runs(["old", "future"])

    assert snaps["old"].heartbeat_at == T0 + timedelta(seconds=30)
    assert snaps["future"].heartbeat_at == NOW


def test_finished_by_total_steps_with_per_run_override(tmp_path):
    write_run(tmp_path / "exp" / "a", range(0, 101))
    write_run(tmp_path / "exp" / "b", range(0, 101))
    tracker = make_tracker(tmp_path, **{"total_steps": "100", "total_steps.exp/b": "500"})

    snaps = tracker.fetch_runs(["exp/a", "exp/b"])

    assert snaps["exp/a"].state is RunState.FINISHED
    assert snaps["exp/a"].ended_at == snaps["exp/a"].heartbeat_at
    assert (snaps["exp/b"].state, snaps["exp/b"].total_steps) == (RunState.RUNNING, 500)


@pytest.mark.parametrize("marker", ["DONE", "_SUCCESS"])
def test_done_marker_means_finished(tmp_path, marker):
    write_run(tmp_path / "run", range(10))
    (tmp_path / "run" / marker).touch()

    snap = make_tracker(tmp_path).fetch_runs(["run"])["run"]

    assert snap.state is RunState.FINISHED
    assert snap.total_steps is None


def test_restart_uses_newest_file_and_counts_restarts(tmp_path):
    run = tmp_path / "run"
    write_run(run, range(0, 81))  # crashed at step 80
    write_run(run, range(50, 61), start=T0 + timedelta(hours=1))  # resumed from checkpoint 50
    tracker = make_tracker(tmp_path, total_steps="80")

    snap = tracker.fetch_runs(["run"])["run"]
    history = tracker.metric_history(["run"], "loss")["run"]

    assert snap.state is RunState.RUNNING  # step went back to 60: not finished any more
    assert snap.step == 60
    assert snap.params == {"restarts": "1"}
    assert snap.started_at == T0
    assert snap.metrics == {"loss": 0.06}
    # Old points from step 50 on were orphaned by the restart; the new session's replace them.
    assert [p.step for p in history] == list(range(0, 61))
    assert history[55].at == T0 + timedelta(hours=1, seconds=60)


def test_metric_history_ascending_from_start_step(tmp_path):
    write_run(tmp_path / "run", range(0, 20), extra_tag="acc")
    tracker = make_tracker(tmp_path)

    history = tracker.metric_history(["run", "missing"], "acc", start_step=15)

    assert set(history) == {"run"}
    assert [(p.step, p.value) for p in history["run"]] == [(s, float(s)) for s in range(15, 20)]
    assert history["run"][0].at == T0 + timedelta(seconds=160)
    assert tracker.metric_history(["run"], "no-such-tag") == {"run": []}


def test_list_runs_walks_experiment_and_filters_since(tmp_path):
    write_run(tmp_path / "exp" / "early", range(5), start=T0)
    write_run(tmp_path / "exp" / "late", range(5), start=T0 + timedelta(hours=1))
    write_run(tmp_path / "exp" / "sweep" / "trial-1", range(5), start=T0 + timedelta(hours=1))
    write_run(tmp_path / "other" / "x", range(5))
    (tmp_path / "exp" / "notes").mkdir()  # no events: not a run
    tracker = make_tracker(tmp_path)

    everything = tracker.list_runs("exp")
    recent = tracker.list_runs("exp", since=T0 + timedelta(minutes=30))

    assert [s.ref for s in everything] == ["exp/early", "exp/late", "exp/sweep/trial-1"]
    assert [(s.ref, s.experiment) for s in recent] == [
        ("exp/late", "exp"),
        ("exp/sweep/trial-1", "exp/sweep"),
    ]
    assert len(tracker.list_runs(".")) == 4


def test_root_run_and_file_url(tmp_path):
    write_run(tmp_path, range(3))
    tracker = Tracker(ConnectionInfo(kind=KIND, name="tb", url=tmp_path.as_uri()), clock=lambda: NOW)

    snap = tracker.fetch_runs(["."])["."]

    assert (snap.name, snap.experiment, snap.step) == (tmp_path.name, None, 2)
    assert [s.ref for s in tracker.list_runs(".")] == ["."]


def test_missing_run_folder_is_absent(tmp_path):
    write_run(tmp_path / "run", range(3))
    (tmp_path / "empty").mkdir()

    assert set(make_tracker(tmp_path).fetch_runs(["run", "gone", "empty"])) == {"run"}


@pytest.mark.parametrize("ref", ["..", "../elsewhere", "a/../../b", "a/..", "/etc", "a\\..\\b", "a\x00b"])
def test_refs_cannot_escape_the_root(tmp_path, ref):
    tracker = make_tracker(tmp_path)
    for call in (
        lambda: tracker.fetch_runs(["ok", ref]),
        lambda: tracker.list_runs(ref),
        lambda: tracker.metric_history([ref], "loss"),
    ):
        with pytest.raises(TrackerError) as err:
            call()
        assert err.value.permanent


def test_missing_experiment_is_permanent(tmp_path):
    with pytest.raises(TrackerError) as err:
        make_tracker(tmp_path).list_runs("nope")
    assert err.value.permanent


def test_missing_root_is_transient(tmp_path):
    tracker = make_tracker(tmp_path / "unmounted")
    for call in (tracker.check, lambda: tracker.fetch_runs(["run"]), lambda: tracker.list_runs(".")):
        with pytest.raises(TrackerError) as err:
            call()
        assert not err.value.permanent


def test_check(tmp_path):
    make_tracker(tmp_path).check()
    (tmp_path / "file").touch()
    with pytest.raises(TrackerError) as err:
        make_tracker(tmp_path / "file").check()
    assert err.value.permanent


@pytest.mark.parametrize(
    ("url", "options"),
    [("relative/logs", {}), ("file://nas/logs", {}), ("/logs", {"total_steps": "ten"})],
)
def test_bad_connection_settings_are_permanent(url, options):
    with pytest.raises(TrackerError) as err:
        Tracker(ConnectionInfo(kind=KIND, name="tb", url=url, options=options))
    assert err.value.permanent


def test_a_run_folder_that_links_out_of_the_root_is_not_read(tmp_path):
    # Issue 12 item 11: the root's own symlinks are resolved when connecting; a run folder inside
    # it that links elsewhere (here to another log tree) is not a run of this connection.
    write_run(tmp_path / "outside" / "secret-run", range(0, 5))
    root = tmp_path / "logs"
    write_run(root / "exp" / "run-a", range(0, 5))
    (root / "exp" / "escape").symlink_to(tmp_path / "outside" / "secret-run")
    tracker = make_tracker(root)
    assert set(tracker.fetch_runs(["exp/run-a", "exp/escape"])) == {"exp/run-a"}
    assert tracker.metric_history(["exp/escape"], "loss") == {}


def test_a_root_that_links_to_a_system_folder_is_refused(tmp_path):
    (tmp_path / "logs").symlink_to("/etc")
    with pytest.raises(TrackerError, match="system folder") as caught:
        make_tracker(tmp_path / "logs")
    assert caught.value.permanent


def test_an_events_file_stamped_with_a_non_ascii_digit_is_ordered_by_mtime_not_a_crash(tmp_path):
    """'²'.isdigit() is true and float('²') raises: a stray file named so stopped every poll of the folder."""
    run = tmp_path / "run"
    events = write_run(run, range(0, 11))
    stray = run / "events.out.tfevents.².host"
    stray.write_bytes(events.read_bytes())
    set_mtime(stray, T0 - timedelta(hours=1))  # older than the writer's file, so read first

    snap = make_tracker(tmp_path).fetch_runs(["run"])["run"]

    assert snap.step == 10 and snap.metrics == {"loss": 0.01}
