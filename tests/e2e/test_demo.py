"""`readybot demo`: the sandbox page drives the real bot with signed requests, end to end."""

from __future__ import annotations

import re

import requests

from bot.notify.dispatch import Dispatcher
from bot.sandbox.demo import Demo


def state(quiet_demo: Demo, user: str = "U1", channel: str = "C2") -> dict:
    resp = requests.get(quiet_demo.sandbox_url + "sandbox/state", params={"user": user, "channel": channel}, timeout=5)
    assert resp.status_code == 200
    return resp.json()


def post(quiet_demo: Demo, path: str, body: dict) -> dict:
    resp = requests.post(quiet_demo.sandbox_url + "sandbox/" + path, json=body, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def bot_texts(items: list[dict]) -> list[str]:
    return [e.get("text") or "" for e in items if not e.get("sandbox")]


def test_page_and_its_assets_are_served(quiet_demo):
    page = requests.get(quiet_demo.sandbox_url, timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "/static/app.js" in page.text
    for name in ("app.js", "blocks.js", "style.css"):
        assert requests.get(quiet_demo.sandbox_url + "static/" + name, timeout=5).status_code == 200
    assert requests.get(quiet_demo.sandbox_url + "static/..%2Fpage.py", timeout=5).status_code == 404


def test_workspace_is_seeded_in_two_time_zones(quiet_demo):
    seen = state(quiet_demo)
    humans = [u for u in seen["users"] if not u["is_bot"]]
    assert len(humans) >= 3 and len({u["tz"] for u in humans}) == 2
    names = {c["name"] for c in seen["channels"]}
    assert {"ml-team", "readybot"} <= names
    assert seen["channel"] == "C2"


def test_help_command_answers_ephemerally_to_its_user_only(quiet_demo):
    answer = post(quiet_demo, "command", {"text": "/ready help", "channel": "C2", "user": "U3"})
    assert answer == {"ok": True, "status": 200}
    mine = bot_texts(state(quiet_demo, user="U3")["ephemerals"])
    assert any("/ready connect" in text and "/ready track" in text for text in mine)
    assert bot_texts(state(quiet_demo, user="U1")["ephemerals"]) == []
    assert state(quiet_demo, user="U3")["messages"] == []  # nothing was posted to the channel


def test_slow_command_answers_through_the_response_url(quiet_demo):
    # connect is a slow handler: an empty ack, then a response_url post from a bot thread.
    post(quiet_demo, "command", {"text": "/ready connect push as trainer", "channel": "C2", "user": "U1"})
    quiet_demo.fake.wait_for(lambda: any("rbp_" in t for t in bot_texts(quiet_demo.fake.ephemerals("C2"))))
    assert any("Push connection *trainer*" in t for t in bot_texts(state(quiet_demo)["ephemerals"]))
    assert bot_texts(state(quiet_demo, user="U2")["ephemerals"]) == []


def test_modal_opens_and_its_submission_round_trips(quiet_demo):
    post(quiet_demo, "command", {"text": "/ready connect", "channel": "C2", "user": "U1"})
    quiet_demo.fake.wait_for(quiet_demo.fake.modals)  # wait_for holds the fake's lock: no HTTP in the predicate
    modal = state(quiet_demo)["modal"]
    assert modal["callback_id"] == "connect_modal"
    assert state(quiet_demo, user="U2")["modal"] is None  # shown to the user who asked
    values = {"kind": {"value": {"type": "static_select", "selected_option": {"value": "push"}}},
              "name": {"value": {"type": "plain_text_input", "value": "from-modal"}}}
    answer = post(quiet_demo, "submit", {"user": "U1", "view_id": modal["id"], "values": values})
    assert answer == {"ok": True, "status": 200}  # the bot verified the signature and acked
    assert state(quiet_demo)["modal"] is None
    quiet_demo.fake.wait_for(lambda: any("from-modal" in t for t in bot_texts(quiet_demo.fake.ephemerals("C2"))))


def test_modal_errors_keep_it_open(quiet_demo):
    post(quiet_demo, "command", {"text": "/ready connect", "channel": "C2", "user": "U1"})
    quiet_demo.fake.wait_for(quiet_demo.fake.modals)  # wait_for holds the fake's lock: no HTTP in the predicate
    modal = state(quiet_demo)["modal"]
    answer = post(quiet_demo, "submit", {"user": "U1", "view_id": modal["id"], "values": {}})
    assert answer["errors"] and state(quiet_demo)["modal"]["id"] == modal["id"]


def buttons(message: dict) -> list[dict]:
    return [e for b in message.get("blocks") or [] for e in b.get("elements") or [] if e.get("type") == "button"]


def test_button_on_a_target_alert_round_trips(quiet_demo):
    post(quiet_demo, "command", {"text": "/ready connect push as trainer", "channel": "C2", "user": "U1"})
    quiet_demo.fake.wait_for(lambda: any("rbp_" in t for t in bot_texts(quiet_demo.fake.ephemerals("C2"))))
    token = re.search(r"rbp_[\w-]+", str(quiet_demo.fake.ephemerals("C2"))).group(0)
    post(quiet_demo, "command", {"text": "/ready track trainer:resnet-7", "channel": "C2", "user": "U1"})
    post(quiet_demo, "command", {"text": "/ready target loss <= 0.3 on trainer:resnet-7", "channel": "C2", "user": "U1"})
    run = {"state": "running", "step": 800, "total_steps": 1000, "metrics": {"loss": 0.25}}
    pushed = requests.post(quiet_demo.bot_url + "/api/v1/runs/resnet-7", json=run, timeout=10,
                           headers={"Authorization": f"Bearer {token}"})
    assert pushed.status_code == 200, pushed.text
    Dispatcher(quiet_demo.services.store, quiet_demo.services.clients, quiet_demo.services.clock).drain()  # no scheduler here
    alert = next(m for m in state(quiet_demo)["messages"] if buttons(m))
    ack = next(b for b in buttons(alert) if b["action_id"] == "target_ack")
    answer = post(quiet_demo, "action", {"user": "U3", "channel": "C2", "message_ts": alert["ts"],
                                   "action_id": ack["action_id"], "value": ack["value"]})
    assert answer == {"ok": True, "status": 200}
    quiet_demo.fake.wait_for(lambda: quiet_demo.fake.calls("chat.update"))  # the bot edits the alert in place
    edited = next(m for m in state(quiet_demo)["messages"] if m["ts"] == alert["ts"])
    assert "edited" in edited and edited != alert


def test_click_without_a_listener_is_still_verified(quiet_demo):
    answer = post(quiet_demo, "action", {"user": "U1", "channel": "C2", "message_ts": "1.000001",
                                   "action_id": "sandbox_probe", "value": "x"})
    # The signature is checked before routing: a bad one is 401; a good one that no feature
    # listens for is still acknowledged (200), so Slack shows the user no error.
    assert answer["status"] == 200


def test_plain_message_and_unknown_command(quiet_demo):
    post(quiet_demo, "command", {"text": "hello team", "channel": "C2", "user": "U2"})
    assert [m["text"] for m in state(quiet_demo)["messages"]] == ["hello team"]
    assert state(quiet_demo)["messages"][0]["user"] == "U2"
    answer = post(quiet_demo, "command", {"text": "/nope", "channel": "C2", "user": "U2"})
    assert answer["error"] == "unknown_command"


def test_dm_with_the_bot_works_before_it_was_opened(quiet_demo):
    answer = post(quiet_demo, "command", {"text": "/ready help", "channel": "DU4", "user": "U4"})
    assert answer["status"] == 200
    assert bot_texts(state(quiet_demo, user="U4", channel="DU4")["ephemerals"])


def test_opening_the_home_tab_gets_it_published(quiet_demo):
    assert state(quiet_demo)["home"] is None
    assert post(quiet_demo, "home", {"user": "U1"})["status"] == 200  # app_home_opened, signed
    quiet_demo.fake.wait_for(lambda: quiet_demo.fake.home("U1"))  # published from a listener thread
    assert state(quiet_demo)["home"]["type"] == "home"
    assert state(quiet_demo, user="U2")["home"] is None


def test_page_posts_must_be_json(quiet_demo):
    resp = requests.post(quiet_demo.sandbox_url + "sandbox/command", data="text=/ready help", timeout=5,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 415


def test_state_lists_what_can_be_unread_per_channel(quiet_demo):
    # The page marks a channel unread from these: others' channel-level messages, not thread
    # replies (Slack keeps those in the thread) and not the user's own messages.
    post(quiet_demo, "command", {"text": "hello from bob", "channel": "C2", "user": "U2"})
    post(quiet_demo, "command", {"text": "mine", "channel": "C2", "user": "U1"})
    with quiet_demo.fake.changed:
        parent = quiet_demo.fake.world.post("C2", {"text": "alert"})
        quiet_demo.fake.world.post("C2", {"text": "chart", "thread_ts": parent["ts"]})
    recent = {c["id"]: c["recent"] for c in state(quiet_demo)["channels"]}
    texts = {m["ts"]: m["text"] for m in quiet_demo.fake.messages("C2")}
    assert [texts[ts] for ts in recent["C2"]] == ["hello from bob", "alert"]
    assert recent["DU1"] == []  # the DM with the bot is listed before it has messages
