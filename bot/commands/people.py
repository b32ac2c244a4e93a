"""`me`: which tracker usernames are you, and whether alerts mention you.

    /ready me                                  what you claimed, and your mentions setting
    /ready me <tracker>:<username>             claim a username (tracker: connection name or kind)
    /ready me remove <tracker>:<username>
    /ready me mentions on|off
"""

from .lexer import Fail, Token, has_control_chars, no_more, show, single
from .refs import parse_name
from .types import Me, MeClaim, MeMentions, MeRemove

MAX_USERNAME = 200


def parse_me(args: list[Token]) -> Me | MeClaim | MeRemove | MeMentions:
    if not args:
        return Me()
    word = args[0].keyword
    if word == "mentions":
        choice = single(args[1:], "`on` or `off`", "mentions")
        if choice.keyword not in ("on", "off"):
            raise Fail(f"`mentions` takes `on` or `off`, not {show(choice.raw)}")
        return MeMentions(choice.keyword == "on")
    if word == "remove":
        tracker, username = _identity(single(args[1:], "a `<tracker>:<username>`", "remove"))
        return MeRemove(tracker, username)
    no_more(args[1:])
    return MeClaim(*_identity(args[0]))


def _identity(token: Token) -> tuple[str, str]:
    tracker, sep, username = token.raw.partition(":")
    if not sep:
        raise Fail(f"{show(token.raw)} names no tracker; write `<tracker>:<username>`, as in `mlflow:alice`")
    if not tracker:
        raise Fail(f"missing the tracker before `:` in {show(token.raw)}; as in `mlflow:alice`")
    parse_name(tracker)
    username = username.strip()
    if username.startswith('"') and username.endswith('"') and len(username) >= 2:
        username = username[1:-1].strip()
    if not username:
        raise Fail(f"missing the username after `{tracker}:`")
    if '"' in username or has_control_chars(username):
        raise Fail(f"{show(username)} is not a username; quote one with spaces as in `mlflow:\"Alice Smith\"`")
    if len(username) > MAX_USERNAME:
        raise Fail(f"the username is too long ({len(username)} characters; at most {MAX_USERNAME})")
    return tracker, " ".join(username.split())
