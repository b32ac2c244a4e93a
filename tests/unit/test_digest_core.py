"""Digest assembly: sections since the last digest, caps, target bests, review readiness."""

from __future__ import annotations

import datetime as dt

from bot.core.digest import MAX_PER_SECTION, assemble
from bot.core.facts import ReviewFacts, RunFacts, TargetFacts

NOW = dt.datetime(2026, 11, 23, 17, 0, tzinfo=dt.UTC)
SINCE = NOW - dt.timedelta(days=1)


def run(id_: int, state: str, **kw) -> RunFacts:
    return RunFacts(id=id_, name=f"run{id_}", state=state, connection="mlflow", **kw)


def test_sections_count_only_changes_since_the_last_digest():
    runs = [
        run(1, "finished", ended_at=NOW - dt.timedelta(hours=1)),
        run(2, "finished", ended_at=NOW - dt.timedelta(days=2)),
        run(3, "killed", ended_at=NOW - dt.timedelta(hours=3)),
        run(4, "stalled", progress_at=NOW - dt.timedelta(days=2)),  # still stalled: always listed
        run(5, "running", step=50, total_steps=100, eta=NOW + dt.timedelta(hours=1)),
        run(6, "running", step=10),
    ]
    d = assemble(runs, [], [], SINCE, NOW)
    assert [r["name"] for r in d["finished"]] == ["run1"]
    assert [r["name"] for r in d["failed"]] == ["run3"]
    assert [r["name"] for r in d["stalled"]] == ["run4"]
    assert [r["name"] for r in d["running"]] == ["run5", "run6"]  # with an ETA first
    assert d["running"][0]["pct"] == 0.5 and d["running"][0]["eta"] == "18:00 (in 1h)"
    assert d["total"] == 6 and not d["empty"]


def test_long_sections_are_capped_and_counted():
    runs = [run(i, "running", step=i) for i in range(500)]
    d = assemble(runs, [], [], SINCE, NOW)
    assert len(d["running"]) == MAX_PER_SECTION
    assert d["running_more"] == 500 - MAX_PER_SECTION and d["running_count"] == 500


def test_target_best_uses_the_rule_direction_and_stored_bests():
    runs = [run(1, "running", metrics={"loss": 0.5}), run(2, "finished", metrics={"loss": 0.3}),
            run(3, "running", metrics={"loss": "nan"})]
    lower = TargetFacts(id=1, metric="loss", op="<=", threshold=0.25, run_ids=(1, 2, 3), bests={1: 0.2})
    higher = TargetFacts(id=2, metric="acc", op=">=", threshold=0.9, run_ids=(1, 2))
    d = assemble(runs, [lower, higher], [], SINCE, NOW)
    assert d["targets"][0] == {"rule": "loss <= 0.25", "best": 0.2, "run": "run1", "url": None, "met": True,
                               "runs": 3}
    assert d["targets"][1]["best"] is None and d["targets"][1]["met"] is False


def test_reviews_upcoming_with_readiness():
    reviews = [
        ReviewFacts(id=1, title="later", at=NOW + dt.timedelta(days=2), state="scheduled",
                    run_states=("finished", "finished")),
        ReviewFacts(id=2, title="soon", at=NOW + dt.timedelta(hours=2), state="waiting",
                    run_states=("finished", "running", "failed")),
        ReviewFacts(id=3, title="past", at=NOW - dt.timedelta(hours=2), state="scheduled"),
        ReviewFacts(id=4, title="off", at=NOW + dt.timedelta(hours=1), state="cancelled"),
    ]
    d = assemble([], [], reviews, SINCE, NOW)
    assert [(r["title"], r["ready"], r["done"], r["total"], r["failed"]) for r in d["reviews"]] == [
        ("soon", False, 1, 3, 1),
        ("later", True, 2, 2, 0),
    ]


def test_empty_digest():
    assert assemble([], [], [], None, NOW)["empty"]
