"""`leaderboard [<metric>] [max|min] [on <conn>:experiment/<name>]` and
`decisions [last <n>] | decisions edit <id> | decisions remove <id>`."""

import re

from .lexer import Fail, Token, no_more, show, single, split_sections
from .refs import parse_ref
from .targets import parse_id
from .types import DecisionEdit, DecisionList, DecisionRemove, Leaderboard

_METRIC = re.compile(r"[\w./:-]{1,200}")
_DIRECTIONS = {"max": "max", "min": "min", "higher": "max", "lower": "min"}
MAX_DECISIONS = 20
DEFAULT_DECISIONS = 5


def parse_leaderboard(args: list[Token]) -> Leaderboard:
    head, sections = split_sections(args, {"on"})
    metric = direction = None
    for token in head:
        word = token.keyword
        if word in _DIRECTIONS and direction is None:
            direction = _DIRECTIONS[word]
        elif metric is None and direction is None:
            if not _METRIC.fullmatch(token.text):
                raise Fail(f"{show(token.raw)} is not a metric name; use letters, digits and _ . / - :")
            metric = token.text
        else:
            raise Fail(f"unexpected {show(token.raw)} after the metric and direction")
    scope = None
    if "on" in sections:
        scope = parse_ref(single(sections["on"], "an experiment", "on"))
        if not scope.experiment:
            raise Fail(f"`on` takes an experiment, as in `on mlflow:experiment/ablations`, not {show(str(scope))}")
    return Leaderboard(metric, direction, scope)


def parse_decisions(args: list[Token]) -> DecisionList | DecisionEdit | DecisionRemove:
    if not args:
        return DecisionList(DEFAULT_DECISIONS)
    if args[0].keyword == "edit":
        return DecisionEdit(parse_id(args[1:], "decisions edit", "/ready decisions"))
    if args[0].keyword == "remove":
        return DecisionRemove(parse_id(args[1:], "decisions remove", "/ready decisions"))
    if args[0].keyword != "last":
        raise Fail(f"expected `last <n>`, `edit <id>` or `remove <id>` after `decisions`, not {show(args[0].raw)}")
    token = single(args[1:], "how many", "last")
    no_more(args[2:])
    if not token.raw.isascii() or not token.raw.isdigit() or not 1 <= int(token.raw) <= MAX_DECISIONS:
        raise Fail(f"`last` takes a number from 1 to {MAX_DECISIONS}, not {show(token.raw)}")
    return DecisionList(int(token.raw))
