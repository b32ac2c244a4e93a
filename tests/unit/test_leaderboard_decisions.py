"""The leaderboard and decision-record rules (pure core) and their grammar."""

from __future__ import annotations

import csv
import io

import pytest

from bot.commands import DecisionEdit, DecisionList, DecisionRemove, Leaderboard, ParseError, RunRef, parse
from bot.core.decisions import csv_text, frozen_values, markdown
from bot.core.leaderboard import (
    Entry,
    Goal,
    NoMetric,
    change_text,
    choose_metric,
    direction,
    key_params,
    new_leader,
    rank,
)


def entry(i: int, name: str, value: float | None, **params: str) -> Entry:
    metrics = {} if value is None else {"loss": value}
    return Entry(i, name, "mlflow", None, i * 100, metrics, params)


RUNS = [entry(1, "a", 0.3, lr="0.1", opt="sgd"), entry(2, "b", 0.1, lr="0.01", opt="sgd"),
        entry(3, "c", float("nan")), entry(4, "d", None), entry(5, "e", 0.2, lr="0.1", opt="sgd")]


def test_rank_follows_the_direction_and_skips_missing_and_non_finite_values():
    assert [r["name"] for r in rank(RUNS, "loss", maximize=False, goal=None)] == ["b", "e", "a"]
    assert [r["name"] for r in rank(RUNS, "loss", maximize=True, goal=None)] == ["a", "e", "b"]
    assert len(rank(RUNS, "loss", maximize=True, goal=None, limit=2)) == 2


def test_gap_to_the_target_and_met():
    rows = rank(RUNS, "loss", maximize=False, goal=Goal("<=", 0.15))
    assert (rows[0]["met"], rows[0]["gap"]) == (True, 0.0)
    assert rows[1]["met"] is False and rows[1]["gap"] == pytest.approx(0.05)


def test_key_params_are_those_that_differ_and_are_bounded():
    assert key_params(RUNS[:2]) == ["lr"]
    same = [entry(1, "a", 1, x="1"), entry(2, "b", 2, x="1")]
    assert key_params(same) == ["x"]
    many = [entry(i, str(i), i, **{f"p{k}": str(i) for k in range(10)}) for i in range(3)]
    assert len(key_params(many)) == 3


def test_direction_from_the_target_or_as_typed():
    goals = {"loss": Goal("<", 0.1), "acc": Goal(">=", 0.9)}
    assert direction("loss", goals, None) is False and direction("acc", goals, None) is True
    assert direction("loss", goals, "max") is True and direction("other", goals, None) is True


def test_the_metric_is_the_one_target_or_must_be_named():
    assert choose_metric(None, ["acc"]) == "acc" and choose_metric("loss", ["acc", "f1"]) == "loss"
    with pytest.raises(NoMetric) as err:
        choose_metric(None, ["f1", "acc"])
    assert err.value.choices == ("acc", "f1")


def test_new_leader_only_when_another_run_beats_the_last_one():
    top = {"run_id": 2, "name": "aug", "url": None, "value": 0.912}
    assert new_leader(None, top, True) is None  # first look: nothing to compare with
    assert new_leader((2, "aug", 0.90), top, True) is None  # same leader
    assert new_leader((1, "base", 0.95), top, True) is None  # not better
    note = new_leader((1, "base", 0.904), top, True)
    assert note["change"] == "+0.8 pt" and note["was"] == "base"
    assert change_text(12.0, 10.5) == "-1.5"


def test_frozen_values_are_bounded_and_json_safe():
    frozen = frozen_values({"nan": float("nan"), "x": 1.5, "obj": object()})
    assert frozen["nan"] == "nan" and frozen["x"] == 1.5 and isinstance(frozen["obj"], str)
    assert len(frozen_values({f"k{i}": i for i in range(200)})) == 100


RECORD = {"id": 1, "choice": "ship", "note": "=HYPERLINK(\"x\")", "decided_by": "U1", "decided_at": "2026-11-23T11:30",
          "review_title": "A | B", "permalink": None,
          "runs": [{"name": "r|1", "connection": "m", "state": "finished", "step": 5, "metrics": {"acc": -0.5},
                    "params": {"lr": "0.1"}}]}


def test_csv_export_defuses_formulas_and_keeps_numbers():
    rows = list(csv.DictReader(io.StringIO(csv_text([RECORD]))))
    assert rows[0]["note"].startswith("'=") and rows[0]["metrics"] == "acc=-0.5" and rows[0]["step"] == "5"


def test_markdown_export_escapes_table_pipes():
    text = markdown("C1", [RECORD])
    assert "r\\|1" in text and "Ship" in text
    assert "No decisions recorded yet." in markdown("C1", [])


def test_an_edited_record_says_who_edited_it_in_both_exports():
    edited = {**RECORD, "edited_by": "U9", "edited_at": "2026-11-24T09:00"}
    assert "by U1 (edited by U9, 2026-11-24T09:00)" in markdown("C1", [edited])
    assert "edited by" not in markdown("C1", [RECORD])
    [row] = list(csv.DictReader(io.StringIO(csv_text([edited]))))
    assert (row["edited_by"], row["edited_at"]) == ("U9", "2026-11-24T09:00")


@pytest.mark.parametrize("text, expected", [
    ("leaderboard", Leaderboard()),
    ("leaderboard val_acc", Leaderboard("val_acc")),
    ("leaderboard loss min", Leaderboard("loss", "min")),
    ("leaderboard max", Leaderboard(None, "max")),
    ("leaderboard val/acc on prod:experiment/sweep", Leaderboard("val/acc", None, RunRef("prod", "sweep", True))),
    ("decisions", DecisionList(5)),
    ("decisions last 12", DecisionList(12)),
    ("decisions edit 3", DecisionEdit(3)),
    ("decisions edit #3", DecisionEdit(3)),
    ("decisions remove 7", DecisionRemove(7)),
])
def test_parse_leaderboard_and_decisions(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize("text, says", [
    ("leaderboard a b", "unexpected `b`"),
    ("leaderboard a!b", "not a metric"),
    ("leaderboard on prod:run1", "takes an experiment"),
    ("leaderboard on", "missing an experiment"),
    ("decisions first 3", "expected `last"),
    ("decisions last", "missing how many"),
    ("decisions last 0", "from 1 to 20"),
    ("decisions edit", "missing the id"),
    ("decisions edit x", "is not an id"),
    ("decisions remove 0", "is not an id"),
    ("decisions remove 3 4", "unexpected"),
    ("decisions last 3 more", "unexpected `more`"),
])
def test_bad_leaderboard_and_decisions_commands_say_what_is_wrong(text, says):
    result = parse(text)
    assert isinstance(result, ParseError) and says in result.message, result


def test_a_decision_form_run_that_is_a_superscript_digit_is_refused_not_a_500():
    """Found by the HTTP fuzz: '²'.isdigit() is true, but int('²') raises."""
    from bot.handlers.decisions import InvalidForm, submitted

    view = {"state": {"values": {"choice": {"value": {"selected_option": {"value": "ship"}}},
                                 "runs": {"value": {"selected_options": [{"value": "²"}]}}}}}
    with pytest.raises(InvalidForm) as refused:
        submitted(view)
    assert refused.value.errors == {"runs": "Choose at least one run"}


def test_a_decision_form_origin_with_a_superscript_digit_names_no_review():
    from bot.handlers.decisions import form_origin

    assert form_origin("C1:²") == ("C1", None)


def test_an_edit_or_review_form_origin_with_a_superscript_digit_names_nothing():
    """Twins of the decision form's origin: '²'.isdigit() is true and int('²') raises."""
    from bot.handlers.decision_edits import edit_origin
    from bot.handlers.review_form import form_origin

    assert edit_origin("C1:²") == ("C1", None)
    assert form_origin("C1 alert:²") == ("C1", None)
    assert edit_origin("C1:12") == ("C1", 12)
