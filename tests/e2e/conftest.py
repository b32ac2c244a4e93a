"""Fixtures shared by the end-to-end tests of more than one module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.config import Settings
from bot.sandbox.demo import Demo, start_demo


@pytest.fixture
def quiet_demo(tmp_path) -> Iterator[Demo]:  # noqa: ANN001
    """`readybot demo` on a fresh database with its scheduler off: nothing waits for a poll,
    and tests never sleep (the simulated runs have their own module, test_demo_simulation.py)."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'demo.db'}", secret_key="test-secret-key")
    running = start_demo(settings, port=0, sandbox_port=0, scheduler=False)
    try:
        yield running
    finally:
        running.stop()
