"""The run state machine in bot/core/runs.py, as tables: what a channel is told when a poll (or a
push) brings a run's new snapshot, given what was stored after the previous one.

An event kind is the run-event message the channel gets (finished, failed, killed, stalled,
recovered, missing); its episode is part of the message's outbox key, so two events with the
same kind and episode are one message.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.runs import (
    MISSING_AFTER,
    MISSING_AFTER_POLLS,
    Known,
    Observed,
    RunEvent,
    adopted,
    confirm_missing,
    observe,
    staleness,
    vanished,
    with_total,
)
from integrations.base import RunSnapshot, RunState

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
STALL_AFTER = timedelta(minutes=30)
STEP = 1200


def stored(
    state: str, *, moved_ago: timedelta = timedelta(minutes=5), heartbeat_at: datetime | None = None
) -> Known:
    return Known(RunState(state), STEP, heartbeat_at, NOW - moved_ago)


def answer(state: str, *, step: int = STEP, heartbeat_at: datetime | None = None) -> RunSnapshot:
    return RunSnapshot(ref="5f2a9c", state=RunState(state), step=step, heartbeat_at=heartbeat_at)


def told(known: Known | None, snap: RunSnapshot, now: datetime = NOW) -> tuple[str, tuple[str, ...]]:
    """(the run's next state, the messages the channel gets)."""
    seen = observe(known, snap, now, STALL_AFTER)
    return seen.state.value, tuple(event.kind for event in seen.events)


def polls(known: Known | None, *answers: tuple[RunSnapshot, datetime]) -> list[Observed]:
    """Several polls in a row, each storing what the previous one observed (as update_run does)."""
    seen_so_far = []
    for snap, at in answers:
        seen = observe(known, snap, at, STALL_AFTER)
        seen_so_far.append(seen)
        known = Known(seen.state, snap.step, snap.heartbeat_at, seen.progress_at)
    return seen_so_far


# Every stored state x every state a tracker reports (trackers never report "stalled": the
# core derives it), for an answer that shows progress (the step moved).
@pytest.mark.parametrize(
    ("before", "tracker_says", "next_state", "messages"),
    [
        ("queued", "queued", "queued", ()),
        ("queued", "running", "running", ()),
        ("queued", "finished", "finished", ("finished",)),
        ("queued", "failed", "failed", ("failed",)),
        ("queued", "killed", "killed", ("killed",)),
        ("queued", "unknown", "unknown", ()),
        ("running", "queued", "queued", ()),
        ("running", "running", "running", ()),
        ("running", "finished", "finished", ("finished",)),
        ("running", "failed", "failed", ("failed",)),
        ("running", "killed", "killed", ("killed",)),
        ("running", "unknown", "unknown", ()),
        # A terminal run seen again: running again (a restart) is silent; a different end is news.
        ("finished", "queued", "queued", ()),
        ("finished", "running", "running", ()),
        ("finished", "finished", "finished", ()),
        ("finished", "failed", "failed", ("failed",)),
        ("finished", "killed", "killed", ("killed",)),
        ("finished", "unknown", "unknown", ()),
        ("failed", "queued", "queued", ()),
        ("failed", "running", "running", ()),
        ("failed", "finished", "finished", ("finished",)),
        ("failed", "failed", "failed", ()),
        ("failed", "killed", "killed", ("killed",)),
        ("failed", "unknown", "unknown", ()),
        ("killed", "queued", "queued", ()),
        ("killed", "running", "running", ()),
        ("killed", "finished", "finished", ("finished",)),
        ("killed", "failed", "failed", ("failed",)),
        ("killed", "killed", "killed", ()),
        ("killed", "unknown", "unknown", ()),
        # Only a stalled run that runs again is "recovered"; back in the queue says nothing.
        ("stalled", "queued", "queued", ()),
        ("stalled", "running", "running", ("recovered",)),
        ("stalled", "finished", "finished", ("finished",)),
        ("stalled", "failed", "failed", ("failed",)),
        ("stalled", "killed", "killed", ("killed",)),
        ("stalled", "unknown", "unknown", ()),
        # A run that had vanished and is back: its end is news, its return is not.
        ("unknown", "queued", "queued", ()),
        ("unknown", "running", "running", ()),
        ("unknown", "finished", "finished", ("finished",)),
        ("unknown", "failed", "failed", ("failed",)),
        ("unknown", "killed", "killed", ("killed",)),
        ("unknown", "unknown", "unknown", ()),
    ],
)
def test_every_stored_state_against_every_tracker_state(before, tracker_says, next_state, messages):
    assert told(stored(before), answer(tracker_says, step=STEP + 10)) == (next_state, messages)


# The same answers with no sign of life for longer than stall_after: only "running" changes
# meaning (it becomes stalled); the other tracker states mean what they say.
@pytest.mark.parametrize(
    ("before", "tracker_says", "next_state", "messages"),
    [
        ("queued", "running", "stalled", ("stalled",)),
        ("running", "running", "stalled", ("stalled",)),
        ("finished", "running", "stalled", ("stalled",)),  # restarted, and silent ever since
        ("failed", "running", "stalled", ("stalled",)),
        ("killed", "running", "stalled", ("stalled",)),
        ("stalled", "running", "stalled", ()),  # said once, not at every poll
        ("unknown", "running", "stalled", ("stalled",)),
        ("running", "queued", "queued", ()),  # a queued run waits; it does not stall
        ("stalled", "finished", "finished", ("finished",)),
        ("stalled", "failed", "failed", ("failed",)),
        ("stalled", "killed", "killed", ("killed",)),
        ("stalled", "unknown", "unknown", ()),
    ],
)
def test_silent_answers(before, tracker_says, next_state, messages):
    assert told(stored(before, moved_ago=timedelta(minutes=31)), answer(tracker_says)) == (
        next_state,
        messages,
    )


@pytest.mark.parametrize(
    ("silent_for", "next_state"),
    [
        (timedelta(minutes=29), "running"),
        (STALL_AFTER, "running"),  # exactly stall_after is not yet a stall
        (STALL_AFTER + timedelta(seconds=1), "stalled"),
        (timedelta(hours=6), "stalled"),
    ],
)
def test_a_running_run_stalls_only_after_stall_after(silent_for, next_state):
    assert told(stored("running", moved_ago=silent_for), answer("running"))[0] == next_state


def test_a_stall_names_the_last_sign_of_life_as_its_episode():
    last_move = NOW - timedelta(minutes=45)
    seen = observe(stored("running", moved_ago=timedelta(minutes=45)), answer("running"), NOW, STALL_AFTER)
    assert seen.events == (RunEvent("stalled", last_move),)
    assert seen.events[0].episode == last_move.isoformat()
    assert seen.progress_at == last_move  # a silent poll does not move the clock


def test_a_newer_heartbeat_is_a_sign_of_life_even_without_a_new_step():
    before = stored("running", moved_ago=timedelta(minutes=45), heartbeat_at=NOW - timedelta(minutes=45))
    seen = observe(before, answer("running", heartbeat_at=NOW - timedelta(minutes=1)), NOW, STALL_AFTER)
    assert (seen.state, seen.events, seen.progress_at) == (RunState.RUNNING, (), NOW)


def test_the_same_heartbeat_again_is_no_sign_of_life():
    beat = NOW - timedelta(minutes=45)
    before = stored("running", moved_ago=timedelta(minutes=45), heartbeat_at=beat)
    assert told(before, answer("running", heartbeat_at=beat)) == ("stalled", ("stalled",))


def test_a_fresh_heartbeat_keeps_a_run_alive_although_the_stored_progress_is_old():
    """The tracker's own heartbeat (W&B heartbeatAt, the newest metric time) counts as life."""
    before = stored("running", moved_ago=timedelta(hours=2), heartbeat_at=NOW - timedelta(minutes=2))
    assert told(before, answer("running", heartbeat_at=NOW - timedelta(minutes=2))) == ("running", ())


def test_stall_recover_stall_is_two_episodes_and_two_messages():
    """poll by poll, as update_run stores them: each stall of the same run is its own message."""
    recovered_at = NOW + timedelta(minutes=10)
    stall_1, still, back, stall_2 = polls(
        stored("running", moved_ago=timedelta(minutes=40)),
        (answer("running"), NOW),
        (answer("running"), NOW + timedelta(minutes=5)),
        (answer("running", step=STEP + 1), recovered_at),
        (answer("running", step=STEP + 1), recovered_at + timedelta(minutes=31)),
    )

    assert [(o.state.value, [e.kind for e in o.events]) for o in (stall_1, still, back, stall_2)] == [
        ("stalled", ["stalled"]),
        ("stalled", []),
        ("running", ["recovered"]),
        ("stalled", ["stalled"]),
    ]
    assert back.events[0].since == recovered_at
    assert stall_2.events[0].since == recovered_at
    assert stall_1.events[0].episode != stall_2.events[0].episode


@pytest.mark.parametrize("state", ["queued", "running", "finished", "failed", "killed", "unknown"])
def test_first_sight_says_nothing(state):
    """The person who tracked the run sees its state in the reply; the clock starts now."""
    seen = observe(None, answer(state, heartbeat_at=NOW - timedelta(hours=3)), NOW, STALL_AFTER)
    assert (seen.state.value, seen.events, seen.progress_at) == (state, (), NOW)


def test_a_run_first_seen_silent_gets_stall_after_from_first_sight():
    beat = NOW - timedelta(hours=3)
    first, later = polls(
        None,
        (answer("running", heartbeat_at=beat), NOW),
        (answer("running", heartbeat_at=beat), NOW + STALL_AFTER + timedelta(minutes=1)),
    )
    assert [(o.state.value, [e.kind for e in o.events]) for o in (first, later)] == [
        ("running", []),
        ("stalled", ["stalled"]),
    ]


def restart_and_finish_again():
    """finished, then seen running again an hour later, then finished again: one poll each."""
    return polls(
        stored("running"),
        (answer("finished", step=STEP + 10), NOW),
        (answer("running", step=STEP + 20), NOW + timedelta(hours=1)),
        (answer("finished", step=STEP + 30), NOW + timedelta(hours=2)),
    )


def test_a_restarted_run_that_finishes_again_is_told_twice():
    finished, restarted, again = restart_and_finish_again()
    assert [(o.state.value, [e.kind for e in o.events]) for o in (finished, restarted, again)] == [
        ("finished", ["finished"]),
        ("running", []),
        ("finished", ["finished"]),
    ]


def test_the_second_finish_of_a_restarted_run_is_a_new_message():
    finished, _, again = restart_and_finish_again()
    assert finished.events[0].episode != again.events[0].episode


def test_one_finish_seen_by_two_replicas_is_one_message():
    """Exactly-once: the episode comes from the tracker's data, not from the poller's clock."""
    ended = NOW - timedelta(minutes=2)
    snap = RunSnapshot(ref="5f2a9c", state=RunState.FINISHED, step=STEP + 10, ended_at=ended)
    one = observe(stored("running"), snap, NOW, STALL_AFTER)
    other = observe(stored("running"), snap, NOW + timedelta(seconds=7), STALL_AFTER)
    assert one.events[0].episode == other.events[0].episode == ended.isoformat()


@pytest.mark.parametrize(
    ("before", "messages"),
    [
        ("queued", ("missing",)),
        ("running", ("missing",)),
        ("finished", ("missing",)),
        ("failed", ("missing",)),
        ("killed", ("missing",)),
        ("stalled", ("missing",)),
        ("unknown", ()),  # already said: a run that stays gone is not announced at every poll
    ],
)
def test_a_vanished_run_is_said_missing_once(before, messages):
    assert tuple(event.kind for event in vanished(RunState(before))) == messages


def test_a_run_that_vanishes_twice_is_told_twice():
    first = vanished(RunState.RUNNING, last_seen=NOW)
    back_at = NOW + timedelta(hours=1)
    (back,) = polls(Known(RunState.UNKNOWN, STEP, None, NOW), (answer("running", step=STEP + 5), back_at))
    second = vanished(back.state, last_seen=back_at)
    assert first[0].episode != second[0].episode
    assert vanished(RunState.RUNNING, last_seen=NOW)[0].episode == first[0].episode  # a replica agrees


@pytest.mark.parametrize(
    ("state", "messages"),
    [
        ("queued", ()),
        ("running", ()),
        ("unknown", ()),
        ("finished", ("finished",)),  # started and ended between two polls: nobody saw it run
        ("failed", ("failed",)),
        ("killed", ("killed",)),
    ],
)
def test_an_adopted_run_is_news_only_if_it_already_ended(state, messages):
    assert tuple(event.kind for event in adopted(RunState(state))) == messages


@pytest.mark.parametrize(("override", "total"), [(None, 90), (0, 90), (5000, 5000)])
def test_the_total_given_at_track_time_beats_the_trackers_guess(override, total):
    snap = RunSnapshot(ref="5f2a9c", state=RunState.RUNNING, total_steps=90)
    assert with_total(snap, override).total_steps == total


@pytest.mark.parametrize(
    ("polled_at", "stale_since", "age"),
    [
        (NOW - timedelta(minutes=3), None, None),  # the tracker answers: nothing is stale
        (NOW - timedelta(minutes=20), NOW - timedelta(minutes=5), timedelta(minutes=20)),
        (None, NOW - timedelta(minutes=5), timedelta(minutes=5)),  # never answered since tracked
    ],
)
def test_staleness_is_the_age_of_the_last_answer(polled_at, stale_since, age):
    assert staleness(polled_at, stale_since, NOW) == age


@pytest.mark.parametrize(
    ("polls", "minutes", "confirmed"),
    [
        (1, 0, False),  # one answer without the run: a glitch until it repeats
        (2, 30, False),  # long ago, but only twice
        (MISSING_AFTER_POLLS, 2, False),  # three fast polls within two minutes
        (MISSING_AFTER_POLLS, MISSING_AFTER.total_seconds() / 60, True),
        (10, 60, True),
    ],
)
def test_not_found_is_believed_only_when_it_repeats_over_minutes(polls, minutes, confirmed):
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert confirm_missing(now - timedelta(minutes=minutes), polls, now) is confirmed
