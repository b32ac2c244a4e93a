"""`target <metric> <op> <value> [on <ref>] [for <n> evals]` and `target remove <id>`."""

import math
import re

from bot.core.row_ids import row_id

from .lexer import Fail, Token, show, single, split_sections
from .refs import parse_ref
from .types import TargetAdd, TargetRemove

OPS = (">=", ">", "<=", "<")
_OP_HINT = "use one of >= > <= <"
# Comparison characters are split off wherever they are, so `val_acc>=0.9` works unspaced.
_CONDITION = re.compile(r"([^\s<>=!≥≤]*)\s*([<>=!≥≤]*)\s*(.*)", re.DOTALL)
_OP_CHARS = re.compile(r"[<>=!≥≤]")
_METRIC = re.compile(r"[\w./:-]{1,200}")
_ID = re.compile(r"#?(\d{1,18})", re.ASCII)
_PATIENCE = re.compile(r"(\d+)\s*([a-z]*)\s*(.*)", re.ASCII | re.DOTALL)
_EVAL_UNITS = {"", "eval", "evals", "evaluation", "evaluations"}
MAX_PATIENCE = 1000


def parse_target(args: list[Token]) -> TargetAdd | TargetRemove:
    # `remove` starts the subcommand unless a comparison follows (a metric called `remove`).
    if args and args[0].keyword == "remove" and not any(_OP_CHARS.search(t.text) for t in args):
        return TargetRemove(parse_id(args[1:], "target remove", "/ready targets"))
    head, sections = split_sections(args, {"on", "for"})
    metric, op, value = _condition(head)
    scope = parse_ref(single(sections["on"], "a run", "on")) if "on" in sections else None
    patience = _patience(sections["for"]) if "for" in sections else 1
    return TargetAdd(metric, op, value, scope, patience)


def parse_id(tokens: list[Token], after: str, listing: str) -> int:
    token = single(tokens, "the id", after)
    m = _ID.fullmatch(token.raw)
    found = row_id(m[1]) if m else None
    if found is None:
        raise Fail(f"{show(token.raw)} is not an id; use the number shown by `{listing}`, e.g. `#3`")
    return found


def _condition(head: list[Token]) -> tuple[str, str, float]:
    text = " ".join(t.text for t in head)
    m = _CONDITION.fullmatch(text)
    if not text or not m:  # the pattern matches any text; `not m` is for the type checker
        raise Fail("missing `<metric> <op> <value>`, e.g. `val/acc >= 0.9`")
    metric, op, rest = m[1], m[2].replace("≥", ">=").replace("≤", "<="), m[3]
    if not metric:
        raise Fail(f"missing the metric name before {show(op or rest)}")
    if not _METRIC.fullmatch(metric):
        raise Fail(f"{show(metric)} is not a metric name; use letters, digits and _ . / - :")
    if not op and _OP_CHARS.search(rest):
        raise Fail(f"metric names cannot contain spaces: {show(text)}")
    if not op:
        raise Fail(f"missing the comparison after {show(metric)}; {_OP_HINT}")
    if op not in OPS:
        raise Fail(f"{show(op)} is not a comparison; {_OP_HINT}")
    return metric, op, _value(op, rest)


def _value(op: str, rest: str) -> float:
    words = rest.split()
    if not words:
        raise Fail(f"missing the value after `{op}`")
    if len(words) > 1:
        raise Fail(f"unexpected {show(words[1])} after the value")
    word = words[0].replace("\u2212", "-")  # typographic minus sign
    try:
        value = float(word)
    except ValueError:
        raise Fail(f"{show(words[0])} is not a number") from None
    if not math.isfinite(value):
        raise Fail(f"the value must be a finite number, not {show(words[0])}")
    return value


def _patience(tokens: list[Token]) -> int:
    text = " ".join(t.text for t in tokens).lower()
    if not text:
        raise Fail("missing the count after `for`, e.g. `for 3 evals`")
    m = _PATIENCE.fullmatch(text)
    if not m or m[2] not in _EVAL_UNITS:
        raise Fail(f"expected `for <n> evals` after `for`, e.g. `for 3 evals`, not {show(text)}")
    if m[3]:
        raise Fail(f"unexpected {show(m[3].split()[0])} at the end")
    count = int(m[1]) if len(m[1]) <= 6 else MAX_PATIENCE + 1
    if not 1 <= count <= MAX_PATIENCE:
        raise Fail(f"`for` takes 1 to {MAX_PATIENCE} evals, not {show(m[1])}")
    return count
