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
    return services
