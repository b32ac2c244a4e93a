"""How counts are said: "1 run", "2 runs", never "1 runs" or "run(s)". Pure."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """`count` and the noun that agrees with it; `many` for an irregular plural."""
    return f"{count} {word if count == 1 else (many or word + 's')}"
