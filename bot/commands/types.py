"""The typed /ready commands: what `parse` returns and what the Slack handlers consume.

All frozen dataclasses, so handlers can hash, compare and log them (minus secrets) freely.
"""

import datetime as dt
from dataclasses import dataclass, field


def _needs_quotes(name: str) -> bool:
    # Must mirror the tokenizer: whitespace splits tokens and commas split run lists.
    return not name or any(c.isspace() or c == "," for c in name)


@dataclass(frozen=True)
class RunRef:
    """`<conn>:<run-id>` or `<conn>:experiment/<name>`; conn None means "the team's only connection"."""

    conn: str | None
    ref: str
    experiment: bool = False

    def __str__(self) -> str:
        prefix = "" if self.conn is None else f"{self.conn}:"
        if not self.experiment:
            return prefix + self.ref
        name = f'"{self.ref}"' if _needs_quotes(self.ref) else self.ref
        return f"{prefix}experiment/{name}"


@dataclass(frozen=True)
class When:
    """A review time as typed; exactly one of date, weekday (0=Monday) or relative_days is set."""

    date: dt.date | None
    weekday: int | None
    relative_days: int | None
    time: dt.time

    def __post_init__(self) -> None:
        chosen = [x for x in (self.date, self.weekday, self.relative_days) if x is not None]
        if len(chosen) != 1:
            raise ValueError("When needs exactly one of date, weekday, relative_days")


@dataclass(frozen=True)
class ParseError:
    """A malformed command: `message` says what was wrong, `usage` shows how to write it."""

    message: str
    usage: str


@dataclass(frozen=True)
class Help:
    topic: str | None


@dataclass(frozen=True)
class Connect:
    kind: str
    url: str
    name: str | None
    # Tracker keys must never reach logs or messages, and logs are full of reprs.
    key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ConnectModal:
    """Bare `connect`: open a modal so the key is never typed into a channel."""


@dataclass(frozen=True)
class Track:
    target: RunRef
    total_steps: int | None = None


@dataclass(frozen=True)
class Untrack:
    target: RunRef


RUNS_PER_PAGE = 40  # `/ready runs` lines per reply: a page stays well inside Slack's message limits


@dataclass(frozen=True)
class Runs:
    page: int = 1  # `/ready runs page <n>`: a long listing is shown a page at a time


@dataclass(frozen=True)
class Stop:
    """Ask the run's tracker to stop it (after a confirmation button)."""

    target: RunRef
    reason: str = ""


@dataclass(frozen=True)
class TargetAdd:
    metric: str
    op: str
    value: float
    scope: RunRef | None = None
    patience: int = 1


@dataclass(frozen=True)
class TargetList:
    pass


@dataclass(frozen=True)
class TargetRemove:
    id: int


@dataclass(frozen=True)
class ReviewAdd:
    title: str
    when: When
    runs: tuple[RunRef, ...]
    lead: dt.timedelta | None = None


@dataclass(frozen=True)
class ReviewModal:
    prefill_runs: tuple[RunRef, ...] = ()


@dataclass(frozen=True)
class ReviewList:
    pass


@dataclass(frozen=True)
class ReviewCancel:
    id: int


@dataclass(frozen=True)
class Leaderboard:
    """`metric` None: the channel's one target metric; `direction` "max", "min" or None (the target's)."""

    metric: str | None = None
    direction: str | None = None
    scope: RunRef | None = None


@dataclass(frozen=True)
class DecisionList:
    last: int = 5


@dataclass(frozen=True)
class DecisionEdit:
    id: int


@dataclass(frozen=True)
class DecisionRemove:
    id: int


@dataclass(frozen=True)
class Me:
    """What the invoking user claimed, and their mentions setting."""


@dataclass(frozen=True)
class MeClaim:
    tracker: str  # a connection name or a kind
    username: str


@dataclass(frozen=True)
class MeRemove:
    tracker: str
    username: str


@dataclass(frozen=True)
class MeMentions:
    on: bool


@dataclass(frozen=True)
class StandupAt:
    time: dt.time
    days: frozenset[int]


@dataclass(frozen=True)
class StandupNow:
    pass


@dataclass(frozen=True)
class StandupOff:
    pass


@dataclass(frozen=True)
class DigestAt:
    time: dt.time
    days: frozenset[int]


@dataclass(frozen=True)
class DigestNow:
    pass


@dataclass(frozen=True)
class DigestOff:
    pass


Command = (
    Help
    | Connect
    | ConnectModal
    | Track
    | Untrack
    | Runs
    | Stop
    | TargetAdd
    | TargetList
    | TargetRemove
    | ReviewAdd
    | ReviewModal
    | ReviewList
    | ReviewCancel
    | Leaderboard
    | DecisionList
    | DecisionEdit
    | DecisionRemove
    | Me
    | MeClaim
    | MeRemove
    | MeMentions
    | StandupAt
    | StandupNow
    | StandupOff
    | DigestAt
    | DigestNow
    | DigestOff
)
