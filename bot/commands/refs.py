"""Run references (`<conn>:<run-id>`, `<conn>:experiment/<name>`) and connection names."""

import re

from .lexer import Fail, Token, has_control_chars, show, tokenize
from .types import RunRef

NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,40}", re.ASCII)
_EXPERIMENT = "experiment/"
_MAX_REF = 200
_MAX_RUNS = 50


def parse_name(text: str) -> str:
    if not NAME_RE.fullmatch(text):
        raise Fail(
            f"{show(text)} is not a connection name; use letters, digits, _ . - (at most 40 characters)"
        )
    return text


def parse_ref(token: Token) -> RunRef:
    raw = token.raw
    # Checked before the colon split: a conn name has no `/`, so `experiment/a:b` is an
    # experiment named `a:b` on the default connection, not a conn called `experiment/a`.
    if raw.lower().startswith(_EXPERIMENT):
        return RunRef(None, _experiment_name(raw[len(_EXPERIMENT) :]), True)
    conn, sep, rest = raw.partition(":")
    if not sep:
        return RunRef(None, _run_id(raw), False)
    if not conn:
        raise Fail(f"missing the connection name before `:` in {show(raw)}")
    parse_name(conn)
    if rest.lower().startswith(_EXPERIMENT):
        return RunRef(conn, _experiment_name(rest[len(_EXPERIMENT) :]), True)
    if not rest:
        raise Fail(f"missing the run id after `{conn}:`")
    return RunRef(conn, _run_id(rest), False)


def _run_id(text: str) -> str:
    if '"' in text:
        raise Fail('quotes are only allowed around experiment names, as in `mlflow:experiment/"my exp"`')
    if "," in text:
        raise Fail(f"{show(text)} is not a run id: it contains a comma")
    _check_length(text, "run id")
    return text


def _experiment_name(text: str) -> str:
    if text.startswith('"') and text.endswith('"') and len(text) >= 2 and text.count('"') == 2:
        name = text[1:-1].strip()
    elif '"' in text:
        raise Fail('put the whole experiment name in quotes, as in `experiment/"my exp"`')
    elif "," in text:
        raise Fail(f'put experiment names with commas in quotes, as in `experiment/"{text}"`')
    else:
        name = text
    if not name:
        raise Fail("missing the experiment name after `experiment/`")
    _check_length(name, "experiment name")
    return name


def _check_length(text: str, what: str) -> None:
    if len(text) > _MAX_REF:
        raise Fail(f"the {what} is too long ({len(text)} characters; at most {_MAX_REF})")
    if has_control_chars(text):
        raise Fail(f"the {what} {show(text)} contains control characters")


def parse_ref_list(tokens: list[Token], after: str) -> tuple[RunRef, ...]:
    """`a:1,b:2`, `a:1, b:2` or `a:1 , b:2`: commas separate, spaces around them are fine."""
    if not tokens:
        raise Fail(f"missing the runs after `{after}`, e.g. `{after} mlflow:3f2a,mlflow:9c1d`")
    refs = [_list_item(item) for item in _split_commas(" ".join(t.raw for t in tokens))]
    if len(refs) > _MAX_RUNS:
        raise Fail(f"too many runs ({len(refs)}; at most {_MAX_RUNS})")
    return tuple(dict.fromkeys(refs))  # drop repeats, keep the order given


def _list_item(item: str) -> RunRef:
    parts = tokenize(item)
    if not parts:
        raise Fail("the run list has an empty entry (two commas in a row, or a trailing comma)")
    if len(parts) > 1:
        raise Fail(f"separate runs with commas: {show(parts[0].raw)}, {show(parts[1].raw)}")
    return parse_ref(parts[0])


def _split_commas(text: str) -> list[str]:
    # Commas inside quotes belong to an experiment name.
    items, current, in_quote = [], [], False
    for c in text:
        if c == '"':
            in_quote = not in_quote
        if c == "," and not in_quote:
            items.append("".join(current))
            current = []
        else:
            current.append(c)
    items.append("".join(current))
    return items
