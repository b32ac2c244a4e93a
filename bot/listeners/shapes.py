"""The shape of a Slack request body, checked before Bolt sees it (issue 12, item 9).

A request can be signed and still malformed: a replayed body edited by someone holding an old
signature window, a proxy, a bug at Slack. Bolt and our listeners read fields such as
`actions[0].action_id` or `view.state.values` as the documented types
(https://api.slack.com/reference/interaction-payloads,
https://api.slack.com/apis/connections/events-api#callback-field), and a list where an object
belongs raises deep inside Bolt, which answers 500 with a traceback. So each field readybot or
Bolt reads is checked here first: the wrong type, or an id longer than any Slack id, names the
field, and the edge answers 400 with one log line.
"""

from __future__ import annotations

from typing import Any

ID_MAX = 255  # Slack ids are a dozen characters; trigger ids under a hundred
IDS = ("id", "team_id", "user_id", "channel_id", "trigger_id", "api_app_id", "callback_id", "action_id",
       "block_id", "event_id", "hash", "ts", "action_ts", "message_ts", "thread_ts", "type", "channel",
       "user", "tab", "channel_type", "subtype", "bot_id", "enterprise_id")

# (path, type, required). `[]` is every element of a list, `*` every value of an object.
# An optional field may be null (Slack sends `"enterprise": null`).
# Who acts, and in which workspace, decides what a request may touch: both are required.
_AROUND = (
    ("team", dict, True), ("team.id", str, True), ("user", dict, True), ("user.id", str, True),
    ("channel", dict, False), ("channel.id", str, False), ("container", dict, False),
    ("container.channel_id", str, False), ("container.message_ts", str, False), ("trigger_id", str, False),
    ("response_url", str, False), ("api_app_id", str, False), ("enterprise", dict, False),
    ("message", dict, False), ("state", dict, False),
)
_VIEW = (
    ("view", dict, True), ("view.callback_id", str, True), ("view.id", str, False), ("view.hash", str, False),
    ("view.private_metadata", str, False), ("view.blocks", list, False), ("view.blocks.[]", dict, False),
    ("view.state", dict, False), ("view.state.values", dict, False), ("view.state.values.*", dict, False),
    ("view.state.values.*.*", dict, False),
)
_EVENT = ("event", dict, True), ("event.type", str, True), *(
    (f"event.{name}", str, False) for name in ("user", "channel", "tab", "text", "channel_type", "thread_ts",
                                               "subtype", "bot_id", "ts")
), ("team_id", str, False), ("event_id", str, False), ("authorizations", list, False), (
    "authorizations.[]", dict, False)
SHAPES: dict[str, tuple[tuple[str, type, bool], ...]] = {
    "block_actions": (*_AROUND, ("actions", list, True), ("actions.[]", dict, True),
                      ("actions.[].action_id", str, True), ("actions.[].value", str, False),
                      ("actions.[].block_id", str, False), ("actions.[].action_ts", str, False),
                      ("view", dict, False), ("view.id", str, False), ("view.private_metadata", str, False)),
    "view_submission": (*_AROUND, *_VIEW),
    "view_closed": (*_AROUND, *_VIEW),
    "shortcut": (*_AROUND, ("callback_id", str, True)),
    "message_action": (*_AROUND, ("callback_id", str, True)),
    "block_suggestion": (*_AROUND, ("action_id", str, True), ("value", str, False)),
    "event_callback": _EVENT,
    "url_verification": (("challenge", str, True),),
    "app_rate_limited": (("team_id", str, False),),
}
# Interactions Slack documents that readybot has no use for: answered 200 like the unknown buttons.
IGNORED_TYPES = ("interactive_message", "dialog_submission", "dialog_suggestion", "dialog_cancellation",
                 "workflow_step_edit")


def shape_problem(body: dict[str, Any]) -> str | None:
    """The first field of `body` that is not what Slack sends, as a path; None when all are."""
    if _holds_nul(body):
        # Slack never sends a NUL character, and PostgreSQL text cannot store one (found by the
        # HTTP fuzz: a form value with \x00 made the insert fail with a 500).
        return "a value with a NUL character"
    kind = body.get("type")
    if kind is None and "command" in body:
        return None  # a slash command: a form, every field a string
    if not isinstance(kind, str) or kind not in SHAPES and kind not in IGNORED_TYPES:
        return "type"
    for path, expected, required in SHAPES.get(kind, ()):
        problem = _check(body, path.split("."), expected, required, path)
        if problem:
            return problem
    return None


def _holds_nul(node: Any, depth: int = 0) -> bool:
    if isinstance(node, str):
        return "\x00" in node
    if depth > 64:  # deeper than any payload Slack sends; shape checks refuse it elsewhere
        return False
    if isinstance(node, dict):
        return any(_holds_nul(k, depth + 1) or _holds_nul(v, depth + 1) for k, v in node.items())
    if isinstance(node, list):
        return any(_holds_nul(v, depth + 1) for v in node)
    return False


def _check(node: Any, parts: list[str], expected: type, required: bool, path: str) -> str | None:
    head, rest = parts[0], parts[1:]
    if head in ("[]", "*"):
        children = node if head == "[]" else list(node.values())
        for child in children:
            problem = _leaf(child, rest, expected, required, path)
            if problem:
                return problem
        return None
    if not isinstance(node, dict):
        return None  # its parent was optional and is null or absent; checked on its own line
    if head not in node or node[head] is None:
        return path if required and not rest else None
    return _leaf(node[head], rest, expected, required, path, head)


def _leaf(value: Any, rest: list[str], expected: type, required: bool, path: str, name: str = "") -> str | None:
    if rest:
        if rest[0] == "[]" and not isinstance(value, list) or rest[0] == "*" and not isinstance(value, dict):
            return None  # the container's own line reports it
        return _check(value, rest, expected, required, path)
    if not isinstance(value, expected) or isinstance(value, bool) and expected is not bool:
        return path
    if expected is str and name in IDS and len(value) > ID_MAX:
        return path
    if expected is list and required and not value:
        return path
    return None
