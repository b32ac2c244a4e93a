"""/ready connect: add a tracker connection (text form, or a modal so keys stay out of channels)."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from sqlalchemy.exc import IntegrityError

from bot.commands import Connect, ConnectModal
from bot.commands.help import USAGE
from bot.handlers.base import Ctx, Problem, Reply
from bot.notify.blocks import text_input
from bot.store import runs as q
from bot.store.models import Connection
from integrations.base import ConnectionInfo, TrackerError
from integrations.issues import GITHUB_API, ISSUE_KINDS

DEFAULT_URLS = {"wandb": "https://api.wandb.ai", "comet": "https://www.comet.com/api/rest/v2/", "github": GITHUB_API}
NEEDS_KEY = {"wandb", "comet", "jira", "github"}
KEY_FORMS = {"jira": "`key=&lt;email&gt;:&lt;api-token&gt;`", "github": "`key=&lt;token&gt;`"}
CONNECT_MODAL = "connect_modal"
CHECKS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tracker-check")
# In the form the advice is different: there is a Name field, no `as <name>`.
TAKEN = {"field": "name", "form": "A connection with this name already exists; pick another name."}


def connect(ctx: Ctx, cmd: Connect) -> Reply:
    name = cmd.name or cmd.kind
    url = connect_url(cmd)
    with ctx.store.tx() as s:
        if q.find_connection(s, ctx.team_id, name):
            raise Problem(f"A connection named `{name}` already exists. Pick another with `as &lt;name&gt;`.", USAGE["connect"],
                          extra=TAKEN)
    if cmd.kind in NEEDS_KEY and not cmd.key:
        form = KEY_FORMS.get(cmd.kind, "`key=&lt;secret&gt;`")
        raise Problem(f"{cmd.kind} needs an API key: add {form} or run `/ready connect` for a private form.",
                      extra={"field": "key", "form": f"{cmd.kind} needs an API key."})
    if cmd.kind == "push":
        return _connect_push(ctx, name)
    info = ConnectionInfo(kind=cmd.kind, name=name, url=url, secret=cmd.key)
    check_within(ctx, info)
    _save(ctx, name, cmd.kind, url, cmd.key)
    note = " The key is stored encrypted and will not be shown again." if cmd.key else ""
    if cmd.kind in ISSUE_KINDS:
        example = "PROJ-123" if cmd.kind == "jira" else "owner/repo#45"
        return Reply(f":link: Connected *{name}* ({cmd.kind}, {url}).{note}\n"
                     f"Standup answers that mention `{example}` now show its title and status.")
    return Reply(
        f":link: Connected *{name}* ({cmd.kind}, {url}).{note}\n"
        f"Track a run with `/ready track {name}:&lt;run-id&gt;` or `/ready track {name}:experiment/&lt;name&gt;`."
    )


def connect_url(cmd: Connect) -> str:
    """The address a connect command means (`default`: the vendor's cloud)."""
    return DEFAULT_URLS.get(cmd.kind, cmd.url) if cmd.url == "default" else cmd.url


def check_within(ctx: Ctx, info: ConnectionInfo) -> None:
    """Ask the tracker, waiting at most READYBOT_TRACKER_CHECK_SECONDS: an address that accepts
    and never answers must not keep the user waiting through every HTTP retry. A check that
    times out goes on in its thread until its own HTTP timeout; nothing is saved either way."""
    limit = ctx.services.settings.tracker_check_seconds
    try:
        # Building the tracker checks its address too (outbound policy, TensorBoard roots).
        client = ctx.services.issue_trackers(info) if info.kind in ISSUE_KINDS else ctx.services.trackers(info)
        future = CHECKS.submit(client.check)
        future.result(timeout=limit)
    except FutureTimeout:
        raise Problem(f"No answer from {info.kind} at {info.url} within {limit:g} s. Nothing was saved; "
                      "check the address (and that this server can reach it).") from None
    except TrackerError as exc:
        raise Problem(f"Could not reach {info.kind} at {info.url}: {exc}. Nothing was saved.") from None


def _connect_push(ctx: Ctx, name: str) -> Reply:
    token = "rbp_" + secrets.token_urlsafe(24)
    _save(ctx, name, "push", "", None, push_token_hash=ctx.services.box.token_hash(token))
    base = ctx.services.settings.public_url or f"http://localhost:{ctx.services.settings.port}"
    return Reply(
        f":link: Push connection *{name}* created. Its token is shown only this once; keep it as `READYBOT_PUSH_TOKEN` in the training job:\n`{token}`\n"
        f"Report a run from training code:\n```curl -X POST {base}/api/v1/runs/my-run \\\n"
        f"  -H \"Authorization: Bearer $READYBOT_PUSH_TOKEN\" -H 'Content-Type: application/json' \\\n"
        f"  -d '{{\"state\": \"running\", \"step\": 100, \"total_steps\": 1000, \"metrics\": {{\"loss\": 0.4}}}}'```\n"
        f"Then `/ready track {name}:my-run` in a channel."
    )


def _save(ctx: Ctx, name: str, kind: str, url: str, key: str | None, push_token_hash: str | None = None) -> None:
    sealed = ctx.services.box.seal(key) if key else None
    try:
        with ctx.store.tx() as s:
            s.add(
                Connection(
                    team_id=ctx.team_id,
                    name=name,
                    kind=kind,
                    url=url,
                    secret_sealed=sealed,
                    push_token_hash=push_token_hash,
                    options={},
                    created_by=ctx.user_id,
                    created_at=ctx.now,
                )
            )
    except IntegrityError:
        raise Problem(f"A connection named `{name}` already exists. Pick another with `as &lt;name&gt;`.",
                      extra=TAKEN) from None


def connect_modal(ctx: Ctx, _cmd: ConnectModal) -> Reply:
    if ctx.client is None or not ctx.trigger_id:
        raise Problem("Cannot open the form here; use the text form.", USAGE["connect"])
    ctx.client.views_open(trigger_id=ctx.trigger_id, view=connect_view(ctx.channel_id))
    return Reply("")


def connect_view(channel_id: str) -> dict:
    kinds = ["mlflow", "wandb", "comet", "tensorboard", "push", "jira", "github"]
    return {
        "type": "modal",
        "callback_id": CONNECT_MODAL,
        "private_metadata": channel_id,
        "title": {"type": "plain_text", "text": "Connect a tracker"},
        "submit": {"type": "plain_text", "text": "Connect"},
        "blocks": [
            {
                "type": "input",
                "block_id": "kind",
                "label": {"type": "plain_text", "text": "Tracker"},
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "options": [{"text": {"type": "plain_text", "text": k}, "value": k} for k in kinds],
                },
            },
            text_input("url", "URL or log directory", "https://mlflow.example.com", optional=True),
            text_input("name", "Name", "defaults to the tracker kind", optional=True),
            text_input("key", "API key or user:password", "stored encrypted, never shown", optional=True),
        ],
    }
