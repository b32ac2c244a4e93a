"""The threads Bolt runs listeners on, able to say when the work handed to them is done.

Bolt acks a click or a form as soon as the listener calls ack() and lets the listener go on in
its executor (https://slack.dev/bolt-python/concepts/acknowledge): what the click does may land
after the HTTP answer. Shutdown waits here so an acked click is not cut off half way, and a test
waits here before it reads what is stored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class ListenerPool(ThreadPoolExecutor):
    def __init__(self, max_workers: int = 8):
        super().__init__(max_workers=max_workers, thread_name_prefix="bolt-listener")
        self._pending = 0
        self._changed = threading.Condition()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        with self._changed:
            self._pending += 1
        try:
            future = super().submit(fn, *args, **kwargs)
        except BaseException:
            self._finished(None)
            raise
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _future: Future | None) -> None:
        with self._changed:
            self._pending -= 1
            self._changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """True once no listener is running or queued; False if some still are after timeout s."""
        with self._changed:
            return self._changed.wait_for(lambda: self._pending == 0, timeout)
