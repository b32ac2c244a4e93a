"""Every template, rendered with representative payloads for one and for two of each counted
thing: no message says "1 runs", "run(s)" or "1 targets", and a run still going never "ran"."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from bot.core.words import plural
from bot.notify.messages import build
from bot.notify.render import TEMPLATES, render
from tests.slack_text import shown

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
AT = (NOW + timedelta(hours=2)).isoformat()


def run(i: int, state: str = "finished") -> dict:
    return {"id": i, "ref": f"r{i}", "name": f"resnet-{i}", "experiment": "sweep", "url": None, "owner": None,
            "state": state, "step": 100, "total_steps": 100, "metrics": {"loss": 0.1}, "duration_s": 3600.0,
            "heartbeat_at": NOW.isoformat()}


def digest_row(i: int, state: str) -> dict:
    return {"name": f"run-{i}", "url": None, "connection": "mlflow", "owner": None, "state": state, "step": 10,
            "total_steps": 100, "pct": 0.1, "eta": None, "eta_at": None, "eta_in": None, "metrics": [],
            "stale": False, "at": None, "stalled": "stalled 40 min" if state == "stalled" else None}


def review(i: int = 1) -> dict:
    return {"id": i, "title": "Ablation", "at": AT, "state": "waiting", "lead_minutes": 120, "buffer": "30m"}


def alert(i: int) -> dict:
    return {"alert_id": i, "target_id": i, "metric": "val_acc", "op": ">=", "threshold": 0.9, "patience": 1,
            "value": 0.95, "step": 400, "at": NOW.isoformat(), "since_start_s": 60.0, "connection": "mlflow",
            "run": {"id": 1, "ref": "r1", "name": "resnet-1", "url": None, "experiment": None},
            "now": {"state": "running", "step": 400, "diverged": False}}


def payloads(n: int) -> dict[str, dict]:
    """template -> a payload with `n` of each counted thing."""
    users = [f"U{i}" for i in range(1, n + 1)]
    rows = {state: [digest_row(i, state) for i in range(n)] for state in ("finished", "failed", "stalled", "running")}
    home_run = SimpleNamespace(url=None, name="resnet", ref="r1", state="running", step=1, total_steps=None)
    return {
        "channel_unreachable": {"channel_id": "C1", "error": "not_in_channel", "lost": "a run message"},
        "digest": {"digest": {
            "total": n, "since": NOW.isoformat(), "empty": False, **rows,
            **{f"{k}_count": n for k in rows}, **{f"{k}_more": n for k in rows},
            "targets": [{"rule": "val_acc >= 0.9", "best": 0.95, "run": "r", "url": None, "met": True, "runs": n}],
            "reviews": [{"title": "Ablation", "at": AT, "ready": ready, "done": done, "total": n, "failed": 0}
                        for ready, done in ((True, n), (False, 0))]}},
        "experiment_lost": {"experiment": "sweep", "connection": "mlflow", "reason": "not found"},
        "home": {"runs": [(home_run, SimpleNamespace(name="mlflow"), "C1")] * n, "more_runs": n,
                 "reviews": [SimpleNamespace(title="Ablation", at=NOW, state="waiting", channel_id="C1")] * n,
                 "targets": [SimpleNamespace(id=1, metric="loss", op="<", threshold=0.1, patience=n,
                                             channel_id="C1", muted_by=None)] * n, "now": NOW},
        "decision_recorded": {"id": 1, "user": "U1", "choice": "Ship", "note": "good enough",
                              "review": review(), "runs": [{"name": "vit", "url": None, "connection": "mlflow",
                                                            "state": "finished", "step": 10,
                                                            "metrics_text": "loss=0.1"}] * n},
        "review_list": {"reviews": [{**review(i), "policy": "warn", "finished": 0, "total": n} for i in range(n)],
                        "feed": "https://example.test/feed.ics"},
        "review_results": {"review": review(), "upcoming": True, "total": n, "table": ["run  loss"],
                           "goals": ["loss < 0.2"] * n, "baseline": None},
        "review_scheduled": {"review": review(), "user": "U1", "runs": [f"r{i}" for i in range(n)], "lead": "2h",
                             "auto": True},
        "review_warning": {"review": review(), "starts_in": "2h", "finished": n - 1, "total": n,
                           "waiting": [{"name": "vit", "url": None, "state": "running", "connection": "mlflow",
                                        "progress": None, "eta": None, "eta_in": None, "stalled": None}] * n,
                           "broken": [], "postpone_to": AT, "auto": {"from": NOW.isoformat(), "to": AT},
                           "decision": None},
        "run_event": {"run": run(1, "running"), "event": "stalled", "connection": "mlflow"},
        "forecast_unlikely": {"run": {**run(1, "running"), "id": 1}, "connection": "mlflow", "target_id": 1,
                              "metric": "val_acc", "op": ">=", "threshold": 0.9, "log": [],
                              "forecast": "projected to plateau at val_acc 0.87 ± 0.01, below the 0.90 target"},
        "run_nonfinite": {"run": run(1, "running"), "connection": "mlflow", "metric": "loss", "value": "nan"},
        "run_stop": {"user": "U1", "run": run(1, "running"), "connection": "mlflow", "reason": "reached its target",
                     "means": "MLflow marks the run KILLED."},
        "standup_answer": {"user_id": "U1", "items": [{"question": "Done?", "answer": "yes"}] * n, "late": False,
                           "edited": False},
        "standup_done": {"answer_id": 1, "channel_id": "C1", "day": "Mon 23 Nov", "questions": ["Done?"] * n,
                         "due_at": AT, "outcome": {"status": "answered", "rev": n}},
        "standup_open": {"channel_id": "C1", "day": "Mon 23 Nov", "closed": True, "answered": n - 1, "total": n},
        "standup_prompt": {"answer_id": 1, "channel_id": "C1", "day": "Mon 23 Nov", "questions": ["Done?"] * n,
                           "due_at": AT},
        "standup_reminder": {"answer_id": 1, "channel_id": "C1", "day": "Mon 23 Nov", "questions": ["Done?"] * n,
                             "due_at": AT},
        "standup_summary": {"day": "Mon 23 Nov", "answered": users, "skipped": users, "away": users,
                            "missing": users, "total": n},
        "standup_unlisted": {"day": "Mon 23 Nov"},
        "target_alert": {"alerts": [alert(i) for i in range(1, n + 1)], "log": []},
        "target_alert_head": {"count": n + 1, "runs": [f"resnet-{i}" for i in range(n)]},
        "target_chart": {"metric": "val_acc", "run": "resnet-1"},
    }


TEMPLATE_NAMES = sorted(p.stem for p in TEMPLATES.glob("*.j2"))
BAD = re.compile(r"\b1 (runs|targets|reviews|answers|alerts|evals|notifications|members|steps)\b|\(s\)")


def test_every_template_has_a_payload_here():
    assert set(TEMPLATE_NAMES) <= set(payloads(1))


@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize("template", TEMPLATE_NAMES)
def test_counts_agree_with_their_nouns(template, n):
    payload = payloads(n)[template]
    message = render(template, **payload) if template in ("home", "target_alert_head") else build(template, payload)
    text = shown(message.as_kwargs())
    assert not BAD.search(text), text
    assert " ran " not in text or template not in ("run_event", "run_nonfinite")  # these runs are still going


def test_plural():
    assert [plural(0, "run"), plural(1, "run"), plural(2, "run"), plural(2, "match", "matches")] == [
        "0 runs", "1 run", "2 runs", "2 matches"]


def test_no_f_string_says_s_in_brackets():
    root = TEMPLATES.parent
    found = [f"{path.relative_to(root.parent)}:{i}" for path in root.rglob("*.py")
             for i, line in enumerate(path.read_text().splitlines(), 1) if re.search(r'f"[^"]*[a-z]\(s\)', line.replace("http(s)", ""))]
    assert found == []
