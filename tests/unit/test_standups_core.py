"""Standup assembly: owner matching, run changes for the pre-filled answer, the tally."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.core.facts import AlertFacts, RunFacts
from bot.core.standups import (
    DEFAULT_QUESTIONS,
    owner_keys,
    owner_matches,
    prefill,
    questions_of,
    run_changes,
    runs_of,
    tally,
)

NOW = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)
SINCE = NOW - dt.timedelta(days=1)
OLD = NOW - dt.timedelta(days=3)
RECENT = NOW - dt.timedelta(hours=2)


@pytest.mark.parametrize(
    ("owner", "names", "match"),
    [
        ("alice", ["alice"], True),
        ("Alice.Smith@corp.com", ["alice.smith"], True),
        ("alice.smith", ["alice", "Alice Smith"], True),  # first word of the owner
        ("asmith", ["alice", "Alice Smith"], False),
        ("Bob", ["alice"], False),
        (None, ["alice"], False),
        ("alice", [], False),
    ],
)
def test_owner_matches_loosely(owner, names, match):
    assert owner_matches(owner, owner_keys(*names)) is match


def test_owner_keys_drop_one_letter_keys():
    assert owner_keys("a", "Al Smith") == ["alsmith", "al"]


def run(id_: int, state: str, **kw) -> RunFacts:
    return RunFacts(id=id_, name=f"run{id_}", state=state, **kw)


def test_run_changes_since_last_standup():
    runs = [
        run(1, "finished", ended_at=RECENT, metrics={"acc": 0.91, "loss": 0.2}),
        run(2, "finished", ended_at=OLD),  # before the last standup: not news
        run(3, "failed", ended_at=RECENT),
        run(4, "running", step=450, total_steps=1000, progress_at=RECENT, started_at=OLD,
            eta=NOW + dt.timedelta(hours=2)),
        run(5, "running", step=10, progress_at=OLD, started_at=OLD),  # did not move
        run(6, "stalled", step=30, updated_at=RECENT),
        run(7, "running", started_at=RECENT, progress_at=RECENT),
    ]
    alerts = [AlertFacts(run_id=4, metric="acc", op=">=", threshold=0.9, value=0.93, step=400, at=RECENT),
              AlertFacts(run_id=4, metric="acc", op=">=", threshold=0.9, value=0.95, step=100, at=OLD)]
    lines = run_changes(runs, alerts, SINCE, NOW, "UTC")
    assert lines == [
        "run1 finished — acc 0.91, loss 0.2",
        "run3 failed",
        "run4: reached acc >= 0.9 (0.93 at step 400)",
        "run6 stalled at step 30",
        "run4 in progress at step 450/1000 (45%), ETA 11:30 (in 2h)",
        "run7 in progress (started)",
    ]


def test_runs_of_picks_the_members_runs():
    runs = [run(1, "running", owner="alice"), run(2, "running", owner="bob"), run(3, "running")]
    assert [r.id for r in runs_of(runs, owner_keys("alice"))] == [1]


def test_prefill_is_capped_for_a_text_input():
    text = prefill([f"run{i} finished" for i in range(100)], "Run updates in the channel:")
    assert text.startswith("Run updates in the channel:\n• run0 finished")
    assert text.endswith("…and 85 more run updates")
    assert len(prefill(["x" * 5000])) <= 3000


def test_questions_default_and_configured():
    assert questions_of(None) == list(DEFAULT_QUESTIONS)
    assert questions_of({"questions": ["  ", "Wins?", "Risks?"]}) == ["Wins?", "Risks?"]
    assert len(questions_of({"questions": [f"q{i}" for i in range(20)]})) == 8


def test_tally():
    result = tally([("U1", "answered"), ("U2", "skipped"), ("U3", "pending"), ("U4", "away"), ("U5", "answered")])
    assert (result.answered, result.skipped, result.away, result.missing) == (["U1", "U5"], ["U2"], ["U4"], ["U3"])
    assert result.total == 5
