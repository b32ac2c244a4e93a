"""Messages that stay true (issue 11), at the level of the message builders: what each message
says about a run must still hold for the run as it is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.notify.messages import build
from bot.notify.review_messages import warning_payload
from bot.store.models import Connection, Review, Run
from tests.slack_text import shown

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def a_run(state: str, **kw) -> Run:
    values = dict(id=1, ref="r1", name="resnet-7", state=state, step=20, total_steps=100,
                  eta=NOW + timedelta(hours=1), progress_at=NOW - timedelta(minutes=45))
    values.update(kw)
    return Run(**values)


def test_the_review_warning_gives_a_stalled_run_no_eta():
    review = Review(id=3, title="Ablation", at=NOW + timedelta(hours=2), state="waiting", lead_minutes=120,
                    buffer_minutes=30)
    conn = Connection(id=1, name="mlflow", kind="mlflow")
    payload = warning_payload(review, [(a_run("stalled"), conn), (a_run("running", ref="r2", name="vit"), conn)], NOW)
    text = shown(build("review_warning", payload).as_kwargs())
    stalled_line = next(line for line in text.splitlines() if "resnet-7" in line)
    assert "stalled 45 min" in stalled_line and "ETA" not in stalled_line
    assert "ETA" in next(line for line in text.splitlines() if "vit" in line)
