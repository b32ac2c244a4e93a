"""Running the same job on several 'replicas' at once, as threads released together."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def run_together(fn: Callable[..., Any], *args: Any, times: int = 3) -> None:
    barrier = threading.Barrier(times)

    def one() -> None:
        barrier.wait()  # start together: the race is the point
        fn(*args)

    workers = [threading.Thread(target=one) for _ in range(times)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
