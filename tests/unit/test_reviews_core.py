"""Review readiness, checkpoints, postponing and the results table: pure, table-driven, fixed times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core import reviews as r
from bot.core.results import Goal, RunMetrics, pick_metrics, results_table
from bot.core.targets import Rule
from bot.notify.review_messages import table_lines
from integrations.calendar import ics

CURRENT_TIME = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
AT = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
H, M = timedelta(hours=1), timedelta(minutes=1)


def run(state: str, eta: datetime | None = None, name: str = "r") -> r.RunStatus:
    return r.RunStatus(name, state, eta=eta)


def plan(state: str = r.SCHEDULED, policy: str = r.WARN, at: datetime = AT, lead: timedelta = 2 * H) -> r.Plan:
    return r.Plan(state, policy, at, lead, 30 * M)


# readiness


@pytest.mark.parametrize(
    ("states", "verdict"),
    [
        ([], r.Verdict.READY),
        (["finished", "finished"], r.Verdict.READY),
        (["finished", "running"], r.Verdict.WAITING),
        (["queued", "stalled", "unknown"], r.Verdict.WAITING),
        (["finished", "failed"], r.Verdict.DECIDE),
        (["running", "killed"], r.Verdict.DECIDE),
    ],
)
def test_verdict(states, verdict):
    assert r.readiness([run(s) for s in states]).verdict is verdict


def test_latest_eta_is_the_last_of_the_running_runs():
    ready = r.readiness([run("finished"), run("running", AT + H), run("running", AT + 2 * H)])
    assert ready.latest_eta == AT + 2 * H
    assert (ready.finished, len(ready.waiting_on), ready.total) == (1, 2, 3)


@pytest.mark.parametrize("other", [run("running", None), run("stalled", AT), run("queued", AT)])
def test_latest_eta_is_unknown_when_any_waiting_run_has_no_meaningful_eta(other):
    assert r.readiness([run("running", AT + H), other]).latest_eta is None


# checkpoints


@pytest.mark.parametrize(
    ("now", "lead", "expected"),
    [
        (AT - 3 * H, 2 * H, None),
        (AT - 2 * H, 2 * H, "lead"),
        (AT - 16 * M, 2 * H, "lead"),
        (AT - 15 * M, 2 * H, "final"),
        (AT - 1 * M, 2 * H, "final"),
        (AT, 2 * H, None),
        (AT - 20 * M, 10 * M, None),  # a lead under 15 minutes: only the final call
        (AT - 12 * M, 10 * M, None),  # not before the lead the user asked for
        (AT - 10 * M, 10 * M, "final"),
    ],
)
def test_due_checkpoint(now, lead, expected):
    assert r.due_checkpoint(AT, lead, now) == expected


# what the job does


def waiting(eta: datetime | None = AT + 2 * H + 10 * M) -> r.Readiness:
    return r.readiness([run("finished"), run("running", eta)])


@pytest.mark.parametrize(
    ("p", "ready", "now", "expected"),
    [
        (plan(), waiting(), AT - 3 * H, r.Step("none")),
        (plan(), waiting(), AT - 2 * H, r.Step("warn", "lead")),
        (plan(r.WAITING), waiting(), AT - 10 * M, r.Step("warn", "final")),
        (plan(r.POSTPONED), waiting(), AT - 10 * M, r.Step("warn", "final")),
        (plan(r.HELD), waiting(), AT - 10 * M, r.Step("none")),
        (plan(), r.readiness([run("finished")]), AT - 5 * H, r.Step("results")),
        (plan(r.HELD), r.readiness([run("finished")]), AT - 5 * H, r.Step("results")),
        (plan(r.READY), r.readiness([run("finished")]), AT - 5 * M, r.Step("none")),
        (plan(r.READY), r.readiness([run("finished")]), AT, r.Step("done")),
        (plan(r.WAITING), waiting(), AT + M, r.Step("done")),
        (plan(r.CANCELLED), waiting(), AT - 2 * H, r.Step("none")),
        (plan(r.DONE), waiting(), AT + H, r.Step("none")),
        (plan(r.DONE), r.readiness([run("finished")]), AT + H, r.Step("results")),
        # the automatic policy moves the meeting to the latest ETA (16:10) + 30 min buffer
        (plan(policy=r.AUTO_POSTPONE), waiting(), AT - 2 * H,
         r.Step("auto_postpone", "lead", datetime(2026, 11, 23, 16, 40, tzinfo=UTC))),
        # ...but never for a broken run or an unknown ETA: a person decides
        (plan(policy=r.AUTO_POSTPONE), r.readiness([run("failed"), run("running", AT + H)]), AT - 2 * H,
         r.Step("warn", "lead")),
        (plan(policy=r.AUTO_POSTPONE), waiting(None), AT - 2 * H, r.Step("warn", "lead")),
        # ...and not when the runs will be done in time anyway
        (plan(policy=r.AUTO_POSTPONE), waiting(AT - 90 * M), AT - 2 * H, r.Step("warn", "lead")),
    ],
)
def test_next_step(p, ready, now, expected):
    assert r.next_step(p, ready, now) == expected


def test_postpone_rounds_up_to_five_minutes_after_the_buffer():
    eta = datetime(2026, 11, 23, 16, 12, 30, tzinfo=UTC)
    assert r.postpone_to(eta, 30 * M, CURRENT_TIME) == datetime(2026, 11, 23, 16, 45, tzinfo=UTC)
    assert r.postpone_to(AT, 30 * M, CURRENT_TIME) == AT + 30 * M  # already on a mark


def test_manual_postpone_to_eta():
    assert r.manual_postpone_to(plan(), waiting(), CURRENT_TIME) == datetime(2026, 11, 23, 16, 40, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ready", "reason"),
    [
        (r.readiness([run("finished")]), "results are ready"),
        (r.readiness([run("failed")]), "no run is still going"),
        (waiting(None), "unknown"),
        (waiting(AT - H), "in time"),
    ],
)
def test_manual_postpone_refuses_with_a_reason(ready, reason):
    with pytest.raises(ValueError, match=reason):
        r.manual_postpone_to(plan(), ready, CURRENT_TIME)


@pytest.mark.parametrize(
    ("current", "new", "ok"),
    [
        (r.SCHEDULED, r.WAITING, True),
        (r.WAITING, r.POSTPONED, True),
        (r.POSTPONED, r.POSTPONED, True),  # postponed again at the new time's checkpoint
        (r.HELD, r.POSTPONED, True),
        (r.READY, r.POSTPONED, False),  # results are in: nothing to wait for
        (r.CANCELLED, r.CANCELLED, False),
        (r.CANCELLED, r.HELD, False),
        (r.DONE, r.CANCELLED, False),
        (r.HELD, r.HELD, False),
    ],
)
def test_state_changes(current, new, ok):
    assert r.can_change(current, new) is ok


# results table


def metrics(name: str, **values) -> RunMetrics:
    return RunMetrics(f"1:{name}", name, "finished", values)


def test_table_compares_with_targets_and_baseline():
    runs = [metrics("a", val_acc=0.93, loss=0.2, lr=0.1), metrics("b", val_acc=0.88, loss="nan")]
    goals = [Goal(Rule("val_acc", ">=", 0.9)), Goal(Rule("loss", "<=", 0.1), frozenset({"1:b"}))]
    table = results_table(runs, goals, metrics("base", val_acc=0.9, loss=0.3))
    assert table.metrics == ("val_acc", "loss", "lr")
    a, b = table.rows
    assert (a.cells[0].meets, b.cells[0].meets) == (True, False)
    assert a.cells[0].delta == pytest.approx(0.03)
    assert a.cells[1].meets is None  # the loss target covers run b only
    assert b.cells[1].value is None  # NaN is no result
    lines = table_lines(table)
    assert lines[0].split() == ["run", "val_acc", "loss", "lr"]
    assert "0.93 ✓ (+0.03)" in lines[1] and "0.88 ✗ (-0.02)" in lines[2]
    assert lines[3].startswith("baseline: base")


def test_metric_columns_target_metrics_first_then_most_reported():
    runs = [metrics("a", z=1, y=2, x=3), metrics("b", z=1, y=2), metrics("c", z=1)]
    assert pick_metrics(runs, [Goal(Rule("x", ">", 0))], limit=3) == ["x", "z", "y"]


# iCalendar


def test_ics_escapes_folds_and_uses_crlf():
    title = "Ablation; results, part 2 \\ naïve – " + "é" * 60
    event = ics.Event("readybot-review-T1-1", AT, AT + H, title, "line one\nline two", 3, cancelled=True)
    body = ics.calendar("reviews", [event], CURRENT_TIME)
    text = body.decode("utf-8")
    assert text.endswith("END:VCALENDAR\r\n") and "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")
    assert all(len(line.encode("utf-8")) <= 75 for line in lines)
    unfolded = text.replace("\r\n ", "")
    assert "SUMMARY:Ablation\\; results\\, part 2 \\\\ naïve – " + "é" * 60 in unfolded
    assert "DESCRIPTION:line one\\nline two" in unfolded
    assert "DTSTART:20261123T140000Z" in unfolded and "SEQUENCE:3" in unfolded
    assert "STATUS:CANCELLED" in unfolded


def test_fold_never_splits_a_character():
    folded = ics.fold("X:" + "€" * 100)  # 3 octets each
    for line in folded.split("\r\n"):
        line.encode("utf-8").decode("utf-8")
        assert len(line.encode("utf-8")) <= 75
    assert folded.replace("\r\n ", "") == "X:" + "€" * 100
