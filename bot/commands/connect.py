"""`connect <kind> <url> [as <name>] [key=<secret>]`.

Kinds are the experiment trackers readybot polls, `push`, and the issue trackers standup
answers link to (`jira <site-url>`, `github` with no URL for github.com)."""

import difflib
import re
from urllib.parse import urlsplit

from .lexer import Fail, Token, has_control_chars, show, single, split_sections
from .refs import parse_name
from .types import Connect, ConnectModal

KINDS = ("mlflow", "wandb", "comet", "tensorboard", "push", "jira", "github")
_SAAS_KINDS = {"wandb", "comet", "github"}  # `default` means their hosted service
_MAX_URL = 2000
# `scheme://user:password@host`: the part before `@` in the authority is a credential.
_USERINFO = re.compile(r"^<?[A-Za-z][A-Za-z0-9+.-]*://[^/?#|>]*@")
NO_USERINFO = (
    "the URL holds a user name or password, which would be stored and shown in plain text: "
    "give it as `key=user:password` instead (stored encrypted), or run `/ready connect` for a private form"
)


def parse_connect(args: list[Token]) -> Connect | ConnectModal:
    if not args:
        return ConnectModal()
    key, rest = _take_key(args)
    if any(_USERINFO.match(t.text) for t in rest):
        raise Fail(NO_USERINFO)  # before anything that could echo the URL
    if not rest:
        raise Fail(f"missing the tracker kind; use one of {', '.join(KINDS)}")
    kind = _kind(rest[0])
    head, sections = split_sections(rest[1:], {"as"})
    url = _url(kind, head)
    name = parse_name(single(sections["as"], "a name", "as").text) if "as" in sections else None
    return Connect(kind, url, name, key)


def _take_key(args: list[Token]) -> tuple[str | None, list[Token]]:
    # `key=` may sit anywhere; pulled out first so that no error message ever echoes it.
    keys = [t for t in args if t.keyword.startswith("key=")]
    rest = [t for t in args if not t.keyword.startswith("key=")]
    if len(keys) > 1:
        raise Fail("`key=` is given twice")
    if not keys:
        return None, rest
    secret = keys[0].text[len("key=") :]
    if not secret:
        raise Fail("missing the secret after `key=`")
    if any(c.isspace() for c in secret) or has_control_chars(secret):
        raise Fail("the key contains spaces or control characters")
    return secret, rest


def _kind(token: Token) -> str:
    kind = token.keyword
    if kind in KINDS:
        return kind
    close = difflib.get_close_matches(kind, KINDS, n=1)
    hint = f"did you mean `{close[0]}`? " if close else ""
    raise Fail(f"{show(token.raw)} is not a tracker kind; {hint}use one of {', '.join(KINDS)}")


def _url(kind: str, head: list[Token]) -> str:
    if kind == "push":
        if head:
            # Accepting it would suggest readybot reaches out to that address; it never does.
            raise Fail("push takes no URL: your training code sends its runs to readybot")
        return ""  # training code pushes to us; there is nothing to reach
    if kind == "github" and not head:
        return "default"  # github.com; a GitHub Enterprise API root may be given instead
    url = _unwrap(single(head, "the URL", kind).text)
    if len(url) > _MAX_URL or any(c.isspace() for c in url) or has_control_chars(url):
        raise Fail(f"{show(url)} is not a URL")
    if kind in _SAAS_KINDS and url.lower() == "default":
        return "default"
    if kind == "tensorboard":
        if not _is_local_path(url):
            raise Fail(
                f"{show(url)} is not an absolute path; tensorboard reads a log directory such as "
                "`/data/tb-logs` or `file:///data/tb-logs`"
            )
    elif not _is_http_url(url):
        extra = " (or `default` for the hosted service)" if kind in _SAAS_KINDS else ""
        raise Fail(
            f"{show(url)} is not an http(s) URL; {kind} needs e.g. `https://{kind}.example.com`{extra}"
        )
    return url


def _unwrap(url: str) -> str:
    # Slack may send links as <https://x|label> when "escape links" is on for the command.
    if url.startswith("<") and url.endswith(">"):
        return url[1:-1].split("|", 1)[0]
    return url


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def _is_local_path(url: str) -> bool:
    if url.startswith("/"):
        return True
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    local_host = parts.netloc.lower() in ("", "localhost")
    return parts.scheme.lower() == "file" and local_host and parts.path.startswith("/")
