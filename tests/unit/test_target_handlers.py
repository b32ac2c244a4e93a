"""/ready target, targets, target remove, and the alert buttons' state changes, called as plain
functions on a real database (both backends through the `services` fixture)."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.commands import RunRef, TargetAdd, TargetList, TargetRemove, Track
from bot.core.targets import Crossing
from bot.handlers import target_actions, targets, tracking
from bot.handlers.base import Ctx, Problem
from bot.store import targets as store
from bot.store.models import Alert, Connection, Outbox, Run, Target, TargetProgress, Watch, WatchRun

TEAM, CHANNEL = "T0SANDBOX", "C1"


def ctx(services, channel: str = CHANNEL, user: str = "U1") -> Ctx:
    return Ctx(services=services, team_id=TEAM, channel_id=channel, user_id=user)


@pytest.fixture
def trainer(services) -> Connection:
    """A push connection: tracking it needs no tracker server."""
    with services.store.tx() as s:
        conn = Connection(team_id=TEAM, name="trainer", kind="push", created_at=services.clock())
        s.add(conn)
    tracking.track(ctx(services), Track(RunRef("trainer", "r1")))
    return conn


def add(services, text_scope: RunRef | None = None, **kw) -> str:
    cmd = TargetAdd(kw.get("metric", "val_acc"), kw.get("op", ">="), kw.get("value", 0.9), text_scope, kw.get("patience", 1))
    return html.unescape(targets.add(ctx(services, kw.get("channel", CHANNEL)), cmd).text)


def count(services, model) -> int:
    with services.store.tx() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_channel_wide_target_is_stored_and_confirmed(services):
    reply = add(services, patience=2)
    assert "Target *#1* set: `val_acc >= 0.9 for 2 evals` on every run tracked in this channel" in reply
    with services.store.tx() as s:
        target = s.scalars(select(Target)).one()
    assert (target.channel_id, target.metric, target.op, target.threshold, target.patience) == (CHANNEL, "val_acc", ">=", 0.9, 2)
    assert target.scope_connection_id is None and target.created_by == "U1"


def test_the_same_target_twice_is_refused(services):
    add(services)
    with pytest.raises(Problem, match="Target #1 in this channel already says that"):
        add(services)
    add(services, channel="C2")  # another channel may set its own
    assert count(services, Target) == 2


def test_scope_must_be_tracked_here(services, trainer):
    assert "run `trainer:r1`" in add(services, RunRef("trainer", "r1"))
    with pytest.raises(Problem, match="does not track `trainer:r2`"):
        add(services, RunRef("trainer", "r2"))
    with pytest.raises(Problem, match="does not track `trainer:r1`"):
        add(services, RunRef("trainer", "r1"), channel="C2")
    with pytest.raises(Problem, match="No connection named `nope`"):
        add(services, RunRef("nope", "r1"))


def test_experiment_scope_matches_the_runs_of_that_watch(services, trainer):
    with services.store.tx() as s:
        s.add(Watch(team_id=TEAM, channel_id=CHANNEL, connection_id=trainer.id, ref="sweep", is_experiment=True,
                    created_at=services.clock()))
    assert "experiment `trainer:experiment/sweep`" in add(services, RunRef("trainer", "sweep", True), metric="loss")
    add(services, RunRef("trainer", "r1"), metric="acc")
    add(services, metric="f1")
    with services.store.tx() as s:
        run = s.scalars(select(Run)).one()
        assert [t.metric for t in store.targets_for_run(s, run)] == ["acc", "f1"]  # r1 is not in the sweep
        sweep = s.scalars(select(Watch).where(Watch.is_experiment.is_(True))).one()
        s.add(WatchRun(watch_id=sweep.id, run_id=run.id))  # the sweep picks r1 up
    with services.store.tx() as s:
        run = s.scalars(select(Run)).one()
        assert [t.metric for t in store.targets_for_run(s, run)] == ["loss", "acc", "f1"]


def test_list_shows_scope_mute_and_last_crossing(services, trainer):
    assert "No targets in this channel yet" in targets.list_targets(ctx(services), TargetList()).text
    add(services)
    add(services, RunRef("trainer", "r1"), metric="loss", op="<", value=0.1)
    alert_id = _alert(services, target_id=1, value=0.93, step=7)
    target_actions.act(services, "mute", alert_id, "U2", TEAM, CHANNEL)
    text = html.unescape(targets.list_targets(ctx(services), TargetList()).text)
    assert "*Targets in this channel (2)*" in text
    first, second = text.splitlines()[1:]
    assert "#1* `val_acc >= 0.9`" in first and "muted by <@U2>" in first and "last reached by *r1* (0.93 at step 7)" in first
    assert "#2* `loss < 0.1` · run `trainer:r1` · not reached yet" in second


def test_remove_only_in_its_channel_and_takes_alerts_along(services, trainer):
    add(services)
    _alert(services, target_id=1, value=0.95, step=1)
    with pytest.raises(Problem, match="no target #1 in this channel"):
        targets.remove(ctx(services, "C2"), TargetRemove(1))
    assert "Removed target #1" in targets.remove(ctx(services), TargetRemove(1)).text
    assert count(services, Target) == count(services, Alert) == count(services, TargetProgress) == 0


def _alert(services, target_id: int, value: float, step: int) -> int:
    """An alert with a posted message, as the poller leaves it."""
    now = services.clock()
    with services.store.tx() as s:
        run = s.scalars(select(Run)).one()
        store.lock_progress(s, target_id, run.id)
        alert_id = store.record_alert(s, target_id, run.id, Crossing(1, step, value, now), now)
        key = f"target-alert:{alert_id}"
        s.get(Alert, alert_id).message_key = key
        s.add(Outbox(dedupe_key=key, team_id=TEAM, channel_id=CHANNEL, template="target_alert", status="sent",
                     payload={"alerts": [], "log": []}, not_before=now, created_at=now, ts="1.0", posted_channel=CHANNEL))
    return alert_id


@pytest.mark.parametrize("action", ["ack", "snooze", "mute", "review"])
def test_each_button_changes_state_once(services, trainer, action):
    add(services)
    alert_id = _alert(services, target_id=1, value=0.95, step=1)
    first = target_actions.act(services, action, alert_id, "U1", TEAM, CHANNEL)
    again = target_actions.act(services, action, alert_id, "U1", TEAM, CHANNEL)  # a double click
    assert first.changed and not again.changed
    assert first.run_refs == ["trainer:r1"] and first.channel_id == CHANNEL
    with services.store.tx() as s:
        edits = list(s.scalars(select(Outbox).where(Outbox.op == "update")))
        message = s.scalars(select(Outbox).where(Outbox.dedupe_key == f"target-alert:{alert_id}")).one()
    assert len(edits) == 1 and edits[0].parent_key == message.dedupe_key
    assert [(e["action"], e["user"]) for e in message.payload["log"]] == [(action, "U1")]


def test_snooze_again_after_a_while_extends_it(services, trainer, clock):
    add(services)
    alert_id = _alert(services, target_id=1, value=0.95, step=1)
    target_actions.act(services, "snooze", alert_id, "U1", TEAM, CHANNEL)
    clock.advance(minutes=30)
    assert target_actions.act(services, "snooze", alert_id, "U2", TEAM, CHANNEL).changed
    with services.store.tx() as s:
        assert s.scalars(select(TargetProgress)).one().snoozed_until == clock.now + timedelta(hours=1)
        edits = list(s.scalars(select(Outbox).where(Outbox.op == "update").order_by(Outbox.id)))
    # The first edit was still pending: the second carries everything, so the first is dropped.
    assert [e.status for e in edits] == ["failed", "pending"] and len(edits[1].payload["log"]) == 2


def test_unknown_alert_says_the_target_is_gone(services):
    outcome = target_actions.act(services, "ack", 999, "U1", TEAM, CHANNEL)
    assert not outcome.changed and "removed" in outcome.notice
