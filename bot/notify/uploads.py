"""Files sent through the outbox (charts), made at send time from the row's payload."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.notify import target_alert

FileMaker = Callable[[dict[str, Any]], tuple[str, bytes, str | None]]
FILES: dict[str, FileMaker] = {
    target_alert.CHART: target_alert.chart_file,
}


def file_for(template: str, payload: dict[str, Any]) -> tuple[str, bytes, str | None]:
    """(filename, content, initial comment) for an upload row."""
    try:
        maker = FILES[template]
    except KeyError:
        raise ValueError(f"no file maker for {template!r}") from None
    return maker(payload)
