"""`parse`: slash-command text in, a typed command or a ParseError out; it never raises."""

import difflib
from collections.abc import Callable

from .connect import parse_connect
from .help import GRAMMAR, USAGE
from .lexer import Fail, Token, has_control_chars, no_more, normalize, show, single, split_sections, tokenize
from .people import parse_me
from .records import parse_decisions, parse_leaderboard
from .refs import parse_ref
from .reviews import parse_review
from .schedules import parse_digest, parse_standup
from .targets import parse_target
from .types import Command, Help, ParseError, ReviewList, Runs, Stop, TargetList, Track, Untrack

# Slack caps message text far below this; the cap keeps hostile input cheap to reject.
MAX_TEXT = 4000
MAX_REASON = 200  # a stop's reason travels in a button's block_id (255 characters at most)
MAX_STEPS = 2**63 - 1  # the stored step columns are 64-bit (BIGINT), as MLflow's steps are


def parse(text: str) -> Command | ParseError:
    text = normalize(text)
    words = text.split(maxsplit=1)
    # Worked out before tokenizing, so even a tokenizer error shows the right usage.
    usage = USAGE.get(words[0].lower(), GRAMMAR) if words else USAGE["help"]
    if len(text) > MAX_TEXT:
        return ParseError(f"the command is too long ({len(text)} characters; at most {MAX_TEXT})", usage)
    try:
        tokens = tokenize(text)
        if not tokens:
            return Help(None)
        handler = _HANDLERS.get(tokens[0].keyword)
        if handler is None:
            raise Fail(_unknown(tokens[0]))
        return handler(tokens[1:])
    except Fail as err:
        return ParseError(err.message, usage)


def _unknown(token: Token) -> str:
    close = difflib.get_close_matches(token.keyword, list(_HANDLERS), n=1)
    hint = f"did you mean `{close[0]}`?" if close else "see `/ready help`"
    return f"{show(token.raw)} is not a /ready command; {hint}"


def _help(args: list[Token]) -> Help:
    if not args:
        return Help(None)
    topic = args[0].keyword
    if topic not in USAGE:
        raise Fail(f"there is no help on {show(args[0].raw)}; topics: {', '.join(USAGE)}")
    no_more(args[1:])
    return Help(topic)


def _track(args: list[Token]) -> Track:
    if not args:
        raise Fail("missing a run after `track`")
    # The first word is always the run, even one called `steps`.
    head, sections = split_sections(args[1:], {"steps"})
    no_more(head)
    target = parse_ref(args[0])
    steps = _steps(single(sections["steps"], "the number", "steps")) if "steps" in sections else None
    return Track(target, steps)


def _steps(token: Token) -> int:
    digits = token.text.replace("_", "").replace(",", "")  # 100_000 or 100,000
    if not digits.isascii() or not digits.isdigit() or len(digits) > 19 or not 1 <= int(digits) <= MAX_STEPS:
        raise Fail(f"{show(token.raw)} is not a step count; use a whole number from 1 to {MAX_STEPS:,}")
    return int(digits)


def _untrack(args: list[Token]) -> Untrack:
    return Untrack(parse_ref(single(args, "a run", "untrack")))


def _stop(args: list[Token]) -> Stop:
    if not args:
        raise Fail("missing a run after `stop`")
    target = parse_ref(args[0])
    if target.experiment:
        raise Fail("`stop` takes one run, not an experiment: stop its runs one by one")
    if not args[1:]:
        return Stop(target)
    quoted = args[1].raw
    if not (len(quoted) >= 2 and quoted[0] == quoted[-1] == '"' and quoted.count('"') == 2):
        words = " ".join(t.text for t in args[1:])
        raise Fail(f"put the reason in double quotes: {show(chr(34) + words + chr(34), 60)}")
    no_more(args[2:])
    reason = " ".join(args[1].text.split())
    if len(reason) > MAX_REASON:
        raise Fail(f"the reason is too long ({len(reason)} characters; at most {MAX_REASON})")
    if has_control_chars(reason):
        raise Fail("the reason contains control characters")
    return Stop(target, reason)


MAX_PAGE = 10_000


def _runs(args: list[Token]) -> Runs:
    if not args or args[0].keyword != "page":
        no_more(args)
        return Runs()
    token = single(args[1:], "the page number", "page")
    digits = token.text
    if not digits.isascii() or not digits.isdigit() or len(digits) > 5 or not 1 <= int(digits) <= MAX_PAGE:
        raise Fail(f"{show(token.raw)} is not a page number; use a whole number from 1 to {MAX_PAGE:,}")
    return Runs(int(digits))


def _bare(command: Command) -> Callable[[list[Token]], Command]:
    def handler(args: list[Token]) -> Command:
        no_more(args)
        return command

    return handler


_HANDLERS: dict[str, Callable[[list[Token]], Command]] = {
    "help": _help,
    "connect": parse_connect,
    "track": _track,
    "untrack": _untrack,
    "runs": _runs,
    "stop": _stop,
    "target": parse_target,
    "targets": _bare(TargetList()),
    "review": parse_review,
    "reviews": _bare(ReviewList()),
    "leaderboard": parse_leaderboard,
    "decisions": parse_decisions,
    "me": parse_me,
    "standup": parse_standup,
    "digest": parse_digest,
}
