"""The Slack Web API methods the sandbox answers, each a function (world, params) -> response fields.

Each answers with the documented success shape (https://api.slack.com/methods/<method>) minus
`"ok": true`, which the caller adds, or raises SlackError with one of the method's documented
error codes. Params arrive already decoded: JSON-valued form fields (blocks, view, files) are
lists/dicts here whatever encoding the client used.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.notify.blockkit import block_kit_errors, view_errors

from .world import (
    APP_ID,
    BOT_ID,
    BOT_NAME,
    BOT_USER_ID,
    TEAM_ID,
    TEAM_NAME,
    TEAM_URL,
    SlackError,
    World,
    dm_id,
)

Params = dict[str, Any]


def _need(p: Params, key: str, error: str = "invalid_arguments") -> Any:
    if p.get(key) in (None, "", [], {}):
        raise SlackError(error)
    return p[key]


def _check_blocks(p: Params) -> None:
    if "blocks" not in p:
        return
    if not isinstance(p["blocks"], list):
        raise SlackError("invalid_blocks_format")
    errors = block_kit_errors(p["blocks"], "message")
    if errors:
        raise SlackError("invalid_blocks", response_metadata={"messages": errors})


def _content(p: Params) -> dict:
    return {k: p.get(k) for k in ("text", "blocks", "attachments", "metadata", "thread_ts")}


def auth_test(world: World, p: Params) -> dict:
    # https://api.slack.com/methods/auth.test
    return {"url": TEAM_URL, "team": TEAM_NAME, "user": BOT_NAME, "team_id": TEAM_ID,
            "user_id": BOT_USER_ID, "bot_id": BOT_ID, "is_enterprise_install": False}


def chat_post_message(world: World, p: Params) -> dict:
    # https://api.slack.com/methods/chat.postMessage
    channel = world.channel(_need(p, "channel", "channel_not_found"))
    if not any(p.get(k) for k in ("text", "blocks", "attachments")):
        raise SlackError("no_text")
    _check_blocks(p)
    message = world.post(channel["id"], _content(p))
    return {"channel": channel["id"], "ts": message["ts"], "message": dict(message)}


def chat_update(world: World, p: Params) -> dict:
    # https://api.slack.com/methods/chat.update: omitted blocks are kept, [] removes them.
    channel = world.channel(_need(p, "channel", "channel_not_found"))
    message = world.message(channel["id"], _need(p, "ts", "message_not_found"))
    _check_blocks(p)
    message.update({k: v for k, v in _content(p).items() if v is not None and k != "thread_ts"})
    message["edited"] = {"user": BOT_USER_ID, "ts": world.next_ts()}
    return {"channel": channel["id"], "ts": message["ts"], "text": message.get("text", ""),
            "message": dict(message)}


def chat_post_ephemeral(world: World, p: Params) -> dict:
    # https://api.slack.com/methods/chat.postEphemeral
    channel = world.channel(_need(p, "channel", "channel_not_found"))
    user = world.user(_need(p, "user", "user_not_found"))
    if not channel["is_im"] and user["id"] not in channel["members"]:
        raise SlackError("user_not_in_channel")
    _check_blocks(p)
    ts = world.next_ts()
    world.ephemerals.append({"channel": channel["id"], "user": user["id"], "ts": ts, **_content(p)})
    return {"message_ts": ts}


def chat_delete(world: World, p: Params) -> dict:
    # https://api.slack.com/methods/chat.delete
    channel = world.channel(_need(p, "channel", "channel_not_found"))
    world.delete(channel["id"], _need(p, "ts", "message_not_found"))
    return {"channel": channel["id"], "ts": p["ts"]}


def chat_get_permalink(world: World, p: Params) -> dict:
    # https://api.slack.com/methods/chat.getPermalink
    channel = world.channel(_need(p, "channel", "channel_not_found"))
    ts = world.message(channel["id"], _need(p, "message_ts", "message_not_found"))["ts"]
    return {"channel": channel["id"], "permalink": f"{TEAM_URL}archives/{channel['id']}/p{ts.replace('.', '')}"}


def reactions_add(world: World, p: Params) -> dict:
    # https://api.slack.com/methods/reactions.add
    channel = world.channel(_need(p, "channel", "channel_not_found"))
    message = world.message(channel["id"], _need(p, "timestamp", "message_not_found"))
    name = _need(p, "name", "invalid_name")
    reactions = message.setdefault("reactions", [])
    if any(r["name"] == name for r in reactions):
        raise SlackError("already_reacted")
    reactions.append({"name": name, "users": [BOT_USER_ID], "count": 1})
    return {}


def _public(channel: dict) -> dict:
    shown = {k: v for k, v in channel.items() if k != "members"}
    return {**shown, "is_member": BOT_USER_ID in channel["members"], "num_members": len(channel["members"])}


def conversations_info(world: World, p: Params) -> dict:
    # https://api.slack.com/methods/conversations.info
    return {"channel": _public(world.channel(_need(p, "channel", "channel_not_found")))}


def conversations_history(world: World, p: Params) -> dict:
    # https://api.slack.com/methods/conversations.history: newest first, top-level messages only;
    # message metadata only with include_all_metadata (https://api.slack.com/metadata/using).
    channel = world.channel(_need(p, "channel", "channel_not_found"))
    top = [m for m in world.messages.get(channel["id"], []) if m.get("thread_ts") in (None, m["ts"])]
    return _history_page(top[::-1], p)


def conversations_replies(world: World, p: Params) -> dict:
    # https://api.slack.com/methods/conversations.replies: the parent first, then replies, oldest first.
    channel = world.channel(_need(p, "channel", "channel_not_found"))
    ts = _need(p, "ts", "thread_not_found")
    thread = [m for m in world.messages.get(channel["id"], []) if ts in (m["ts"], m.get("thread_ts"))]
    if not thread:
        raise SlackError("thread_not_found")
    return _history_page(thread, p)


def _history_page(messages: list[dict], p: Params) -> dict:
    limit = min(max(int(p.get("limit") or 100), 1), 999)
    keep_metadata = str(p.get("include_all_metadata", "")).lower() in ("1", "true")
    page = [dict(m) if keep_metadata else {k: v for k, v in m.items() if k != "metadata"} for m in messages[:limit]]
    return {"messages": page, "has_more": len(messages) > limit, "response_metadata": {"next_cursor": ""}}


def conversations_open(world: World, p: Params) -> dict:
    # https://api.slack.com/methods/conversations.open: same DM id on every call for the same user.
    users = [u for u in str(_need(p, "users", "users_list_not_supplied")).split(",") if u]
    if len(users) == 1:
        existed = dm_id(users[0]) in world.channels
        channel = world.open_dm(users[0])
    else:
        name = "mpdm-" + "--".join(sorted(world.user(u)["name"] for u in users)) + "-1"
        found = [c for c in world.channels.values() if c["name"] == name]
        existed = bool(found)
        channel = found[0] if found else world.add_channel(world.next_id("G"), name, [BOT_USER_ID, *users], True)
        channel.update(is_mpim=True)
    shown = _public(channel) if str(p.get("return_im")).lower() in ("1", "true") else {"id": channel["id"]}
    return {"no_op": existed, "already_open": existed, "channel": shown}


def conversations_members(world: World, p: Params) -> dict:
    # https://api.slack.com/methods/conversations.members: cursor-paginated, limit default 100.
    members = world.channel(_need(p, "channel", "channel_not_found"))["members"]
    page, cursor = _page(members, p, 1000)
    return {"members": page, "response_metadata": {"next_cursor": cursor}}


def _page(items: list, p: Params, most: int) -> tuple[list, str]:
    """One page of a cursor-paginated list (https://api.slack.com/apis/pagination): `limit`
    items from `cursor` on, and the cursor of the next page ("" on the last one)."""
    limit = min(max(int(p.get("limit") or 100), 1), most)
    start = 0
    if p.get("cursor"):
        try:
            start = int(base64.b64decode(p["cursor"]).decode().removeprefix("offset:"))
        except (ValueError, binascii.Error) as exc:
            raise SlackError("invalid_cursor") from exc
    end = start + limit
    cursor = base64.b64encode(f"offset:{end}".encode()).decode() if end < len(items) else ""
    return items[start:end], cursor


def _kind(channel: dict) -> str:
    if channel["is_im"]:
        return "im"
    if channel.get("is_mpim"):
        return "mpim"
    return "private_channel" if channel["is_private"] else "public_channel"


def users_conversations(world: World, p: Params) -> dict:
    # https://api.slack.com/methods/users.conversations: the conversations `user` (default: the
    # token's own user) is a member of, of `types` (default public_channel), cursor-paginated
    # with limit default 100, at most 1000 (the documented "no more than 1000").
    user = world.user(p.get("user") or BOT_USER_ID)
    types = {t.strip() for t in str(p.get("types") or "public_channel").split(",") if t.strip()}
    unknown = types - {"public_channel", "private_channel", "mpim", "im"}
    if unknown:
        raise SlackError("invalid_types")
    skip_archived = str(p.get("exclude_archived", "")).lower() in ("1", "true")
    found = [_public(c) for c in world.channels.values()
             if user["id"] in c["members"] and _kind(c) in types and not (skip_archived and c["is_archived"])]
    page, cursor = _page(found, p, 1000)
    return {"channels": page, "response_metadata": {"next_cursor": cursor}}


def users_info(world: World, p: Params) -> dict:
    # https://api.slack.com/methods/users.info: tz_label/tz_offset follow DST at the current time.
    user = world.user(_need(p, "user", "user_not_found"))
    local = datetime.now(ZoneInfo(user["tz"]))
    return {"user": {**_user_object(world, user), "tz_label": local.tzname(),
                     "tz_offset": int(local.utcoffset().total_seconds())}}


def users_lookup_by_email(world: World, p: Params) -> dict:
    # https://api.slack.com/methods/users.lookupByEmail: needs users:read.email; an address no
    # member has answers users_not_found. Slack matches addresses ignoring case.
    if not world.email_scope:
        raise SlackError("missing_scope", needed="users:read.email", provided="users:read")
    email = str(_need(p, "email", "users_not_found")).strip().lower()
    for user in world.users.values():
        if (user.get("email") or "").lower() == email and not user["deleted"]:
            return {"user": _user_object(world, user)}
    raise SlackError("users_not_found")


def _user_object(world: World, user: dict) -> dict:
    """A User object: the email sits in `profile`, and only with the users:read.email scope."""
    profile = {"real_name": user["real_name"], "display_name": user["name"]}
    if user.get("email") and world.email_scope:
        profile["email"] = user["email"]
    return {**{k: v for k, v in user.items() if k != "email"}, "profile": profile}


def _view(p: Params) -> dict:
    view = _need(p, "view")
    if not isinstance(view, dict):
        raise SlackError("invalid_arguments")
    return view


def _store_view(world: World, view: Any, view_id: str | None = None, root: str | None = None) -> dict:
    errors = view_errors(view)
    if errors:
        raise SlackError("invalid_blocks", response_metadata={"messages": errors})
    view_id = view_id or world.next_id("V")
    stored = {
        "id": view_id, "team_id": TEAM_ID, "app_id": APP_ID, "bot_id": BOT_ID, "private_metadata": "",
        "callback_id": "", "external_id": "", "state": {"values": {}}, "root_view_id": root or view_id,
        "previous_view_id": None, **view, "hash": f"{world.next_id('')}.sandbox",
    }
    world.views[view_id] = stored
    return stored


def views_open(world: World, p: Params) -> dict:
    # https://api.slack.com/methods/views.open
    _need(p, "trigger_id")
    view = _store_view(world, _view(p))
    world.modals.append(view)
    return {"view": view}


def views_push(world: World, p: Params) -> dict:
    # https://api.slack.com/methods/views.push: stacks on the open modal, keeps its root.
    _need(p, "trigger_id")
    root = world.modals[-1]["root_view_id"] if world.modals else None
    view = _store_view(world, _view(p), root=root)
    world.modals.append(view)
    return {"view": view}


def views_update(world: World, p: Params) -> dict:
    # https://api.slack.com/methods/views.update: a stale `hash` is refused with hash_conflict.
    old = world.view(p.get("view_id"), p.get("external_id"))
    if p.get("hash") and p["hash"] != old["hash"]:
        raise SlackError("hash_conflict")
    home_of = {"user_id": old["user_id"]} if "user_id" in old else {}
    view = _store_view(world, {**_view(p), **home_of}, view_id=old["id"], root=old["root_view_id"])
    world.modals[:] = [view if m["id"] == view["id"] else m for m in world.modals]
    if home_of:
        world.homes[old["user_id"]] = view
    return {"view": view}


def views_publish(world: World, p: Params) -> dict:
    # https://api.slack.com/methods/views.publish: one Home tab per user, republishing replaces it.
    user = world.user(_need(p, "user_id", "user_not_found"))
    old = world.homes.get(user["id"])
    view = _store_view(world, {**_view(p), "user_id": user["id"]}, view_id=old and old["id"])
    world.homes[user["id"]] = view
    return {"view": view}


def files_get_upload_url_external(world: World, p: Params) -> dict:
    # https://api.slack.com/methods/files.getUploadURLExternal: the bytes go to upload_url next.
    file_id = world.next_id("F")
    name = _need(p, "filename")
    world.files[file_id] = {"id": file_id, "name": name, "title": name, "size": int(_need(p, "length")),
                            "content": None}
    return {"upload_url": f"{world.base_url}upload/{file_id}", "file_id": file_id}


def files_complete_upload_external(world: World, p: Params) -> dict:
    # https://api.slack.com/methods/files.completeUploadExternal: shares into channel_id if given.
    done = []
    for item in _need(p, "files"):
        if item.get("id") not in world.files:
            raise SlackError("file_not_found")
        file = world.files[item["id"]]
        file["title"] = item.get("title") or file["name"]
        file["permalink"] = f"{TEAM_URL}files/{BOT_USER_ID}/{file['id']}/{file['name']}"
        done.append({k: v for k, v in file.items() if k != "content"})
    channels = [c for c in str(p.get("channels") or p.get("channel_id") or "").split(",") if c]
    for channel_id in channels:
        channel = world.channel(channel_id)
        files = [{"id": f["id"], "name": f["name"], "title": f["title"]} for f in done]
        world.post(channel["id"], {"text": p.get("initial_comment"), "files": files,
                                   "thread_ts": p.get("thread_ts"), "upload": True})
    return {"files": done}


METHODS: dict[str, Callable[[World, Params], dict]] = {
    "auth.test": auth_test,
    "chat.delete": chat_delete,
    "chat.getPermalink": chat_get_permalink,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "conversations.history": conversations_history,
    "conversations.info": conversations_info,
    "conversations.members": conversations_members,
    "conversations.open": conversations_open,
    "conversations.replies": conversations_replies,
    "files.completeUploadExternal": files_complete_upload_external,
    "files.getUploadURLExternal": files_get_upload_url_external,
    "reactions.add": reactions_add,
    "users.conversations": users_conversations,
    "users.info": users_info,
    "users.lookupByEmail": users_lookup_by_email,
    "views.open": views_open,
    "views.publish": views_publish,
    "views.push": views_push,
    "views.update": views_update,
}
