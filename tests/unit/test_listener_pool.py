"""The listener threads say when the work after an ack is done (shutdown and tests wait on it)."""

import threading

import pytest

from bot.listeners.pool import ListenerPool


def test_idle_only_once_every_listener_has_finished():
    pool, release = ListenerPool(max_workers=2), threading.Event()
    done = []
    pool.submit(lambda: (release.wait(10), done.append("click")))
    pool.submit(lambda: (release.wait(10), done.append("form")))
    pool.submit(lambda: done.append("queued"))  # waits for a free thread
    assert not pool.wait_idle(timeout=0)
    release.set()
    assert pool.wait_idle(timeout=10)
    assert sorted(done) == ["click", "form", "queued"]
    pool.shutdown()


def test_a_listener_that_fails_still_counts_as_finished():
    pool = ListenerPool(max_workers=1)
    future = pool.submit(lambda: 1 / 0)
    assert pool.wait_idle(timeout=10)
    assert isinstance(future.exception(), ZeroDivisionError)
    pool.shutdown()


def test_work_refused_after_shutdown_is_not_left_pending():
    pool = ListenerPool(max_workers=1)
    pool.shutdown()
    with pytest.raises(RuntimeError):
        pool.submit(print)
    assert pool.wait_idle(timeout=0)
