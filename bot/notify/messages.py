"""Outbox template name -> Slack message: the one table of message builders.

Most messages are just their template (bot/templates/<name>.j2, rendered by render.render);
the ones that add buttons, a count in the notification text or a chart's caption are listed in
BUILDERS, so every interactive message is easy to find. bot/notify/dispatch.py calls build()
for each outbox row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.notify import forecast_alert, review_messages, run_messages, standup_messages, target_alert
from bot.notify.render import Message, render

Builder = Callable[[dict[str, Any]], Message]


def build(template: str, payload: dict[str, Any]) -> Message:
    fn = BUILDERS.get(template)
    return fn(payload) if fn else render(template, **payload)


def digest_message(payload: dict[str, Any]) -> Message:
    """The digest's notification text counts what happened; its header alone says nothing."""
    message = render("digest", **payload)
    digest = payload["digest"]
    counts = [f"{digest.get(key + '_count', 0)} {label}" for key, label in
              (("finished", "finished"), ("failed", "failed"), ("stalled", "stalled"), ("running", "in progress"))
              if digest.get(key + "_count")]
    message.text = "Run digest: " + (", ".join(counts) if counts else "nothing new")
    return message


BUILDERS: dict[str, Builder] = {
    "digest": digest_message,
    target_alert.TEMPLATE: target_alert.alert_message,
    target_alert.CHART: target_alert.chart_caption,
    forecast_alert.TEMPLATE: forecast_alert.unlikely_message,
    "review_warning": review_messages.build_warning,
    "run_nonfinite": run_messages.nonfinite_message,
    "review_results": review_messages.build_results,
    "decision_recorded": review_messages.build_decision,
    "standup_prompt": standup_messages.prompt_message,
    "standup_reminder": standup_messages.reminder_message,
}
