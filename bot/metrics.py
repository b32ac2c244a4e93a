"""Prometheus metrics served at GET /metrics: what an operator watches to know the bot works."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

POLLS = Counter("readybot_tracker_polls_total", "Tracker poll requests per connection kind and outcome",
                ["kind", "outcome"])
POLL_SECONDS = Histogram("readybot_tracker_poll_seconds", "Time to ask one tracker connection", ["kind"])
RUN_EVENTS = Counter("readybot_run_events_total", "Run state changes announced", ["event"])
NOTIFICATIONS = Counter("readybot_notifications_total", "Outbox rows by delivery outcome", ["outcome"])
COMMANDS = Counter("readybot_commands_total", "/ready commands by kind and outcome", ["command", "outcome"])
FORECAST_FITS = Counter("readybot_forecast_fits_total",
                        "Forecasts fitted on a run's history; a listing that finds no new points reuses the last fit")
