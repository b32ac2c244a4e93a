"""Feature wiring: the hooks, jobs and routes each capability adds, declared in one place."""

from __future__ import annotations

from bot.services import Services


def install_features(services: Services) -> Services:
    """Idempotent: register each capability's hooks once on the services object."""
    if services.extras.get("installed"):
        return services
    services.extras["installed"] = True
    services.extras.setdefault("after_run_update", [])
    services.extras.setdefault("jobs", [])
    services.extras.setdefault("routes", [])
    from bot.jobs import reviews  # results reviews: readiness job, run hook, calendar feed and sync

    reviews.install(services)
    from bot.jobs import targets  # target alerts: history fetch, evaluation, NaN loss alerts

    targets.install(services)
    from bot.jobs import digests, standups  # async standups and channel digests
    from bot.notify import standup_messages  # noqa: F401 - registers the standup DM builders

    services.extras["jobs"] += [("standups", standups.standup_tick, standups.JOB_SECONDS),
                                ("digests", digests.digest_tick, digests.JOB_SECONDS)]
    return services
