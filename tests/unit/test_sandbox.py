"""FakeSlack driven by the real slack_sdk WebClient, over real HTTP."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from freezegun import freeze_time
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.sandbox import FakeSlack


@pytest.fixture
def fake():
    with FakeSlack() as server:
        yield server


@pytest.fixture
def client(fake):
    return WebClient(token="xoxb-test", base_url=fake.api_url, retry_handlers=[])


def section(text="hi"):
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def test_post_update_and_thread_reply(fake, client):
    first = client.chat_postMessage(channel="C1", text="run started", blocks=[section("started")])
    second = client.chat_postMessage(channel="C1", text="later")
    assert first["channel"] == "C1" and first["message"]["text"] == "run started"
    assert float(second["ts"]) > float(first["ts"])

    updated = client.chat_update(channel="C1", ts=first["ts"], text="run finished")
    reply = client.chat_postMessage(channel="C1", text="details", thread_ts=first["ts"])

    assert updated["ts"] == first["ts"] and updated["text"] == "run finished"
    texts = [(m["text"], m.get("thread_ts")) for m in fake.messages("C1")]
    assert texts == [("run finished", None), ("later", None), ("details", first["ts"])]
    assert fake.messages("C1")[0]["blocks"] == [section("started")]  # chat.update keeps omitted blocks
    assert fake.last("chat.postMessage").params["thread_ts"] == first["ts"]
    assert fake.last("chat.postMessage").headers["Authorization"] == "Bearer xoxb-test"
    assert reply["message"]["thread_ts"] == first["ts"]


def test_form_encoded_and_get_params_are_decoded(fake):
    headers = {"Authorization": "Bearer xoxb-test"}
    form = {"channel": "C1", "text": "x", "blocks": json.dumps([section()])}
    assert requests.post(fake.api_url + "chat.postMessage", data=form, headers=headers).json()["ok"]
    assert fake.last("chat.postMessage").params["blocks"] == [section()]
    answer = requests.get(fake.api_url + "users.info?user=U1", headers=headers).json()
    assert answer["user"]["name"] == "alice"


def test_ratelimited_call_is_retried_after_retry_after(fake):
    fake.fail_next("chat.postMessage", retry_after=0)
    retrying = WebClient(token="xoxb-test", base_url=fake.api_url,
                         retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])

    assert retrying.chat_postMessage(channel="C1", text="hello")["ok"]
    assert len(fake.calls("chat.postMessage")) == 2
    assert [m["text"] for m in fake.messages("C1")] == ["hello"]


def test_ratelimited_answer_without_retry_handler(fake, client):
    fake.fail_next("chat.update", retry_after=7)
    with pytest.raises(SlackApiError) as caught:
        client.chat_update(channel="C1", ts="1.0", text="x")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "7"
    assert caught.value.response["error"] == "ratelimited"


def test_injected_error_repeats_count_times(fake, client):
    fake.fail_next("conversations.info", "channel_not_found", count=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as caught:
            client.conversations_info(channel="C1")
        assert caught.value.response.status_code == 200
        assert caught.value.response["error"] == "channel_not_found"
    assert client.conversations_info(channel="C1")["channel"]["name"] == "general"


@pytest.mark.parametrize(
    ("token", "error"), [(None, "not_authed"), ("xoxb-wrong", "invalid_auth")]
)
def test_auth_errors(fake, token, error):
    with pytest.raises(SlackApiError) as caught:
        WebClient(token=token, base_url=fake.api_url).auth_test()
    assert caught.value.response["error"] == error


def test_auth_test_and_unknown_method(client):
    assert client.auth_test().data == {
        "ok": True, "url": "https://sandbox.slack.com/", "team": "Sandbox", "user": "readybot",
        "team_id": "T0SANDBOX", "user_id": "U0BOT", "bot_id": "B0BOT", "is_enterprise_install": False,
    }
    with pytest.raises(SlackApiError) as caught:
        client.api_call("chat.frobnicate")
    assert caught.value.response["error"] == "unknown_method"


def test_files_upload_v2_round_trip(fake, client):
    data = bytes(range(256)) * 3
    answer = client.files_upload_v2(content=data, filename="loss.png", title="Loss", channel="C1",
                                    initial_comment="loss curve")

    assert answer["file"]["title"] == "Loss"
    (stored,) = fake.files()
    assert stored["id"] == answer["file"]["id"] and stored["content"] == data
    (message,) = fake.messages("C1")
    assert message["text"] == "loss curve" and message["files"][0]["id"] == stored["id"]
    assert fake.last("files.getUploadURLExternal").params["length"] == str(len(data))


def test_conversations_members_paginates(fake, client):
    fake.add_channel("C9", "runs", [f"U{i}" for i in range(5)])
    pages, cursor = [], None
    while True:
        page = client.conversations_members(channel="C9", limit=2, cursor=cursor)
        pages.append(page["members"])
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert pages == [["U0", "U1"], ["U2", "U3"], ["U4"]]


def test_users_conversations_lists_a_users_channels_page_by_page(fake, client):
    # https://api.slack.com/methods/users.conversations
    for i in range(5):
        fake.add_channel(f"C9{i}", f"team-{i}", ["U1"] if i != 2 else ["U0BOT"])
    fake.add_channel("G1", "secret", ["U1"], is_private=True)
    pages, cursor = [], None
    while True:
        page = client.users_conversations(user="U1", limit=2, cursor=cursor, exclude_archived=True)
        pages.append([c["id"] for c in page["channels"]])
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert pages == [["C1", "C90"], ["C91", "C93"], ["C94"]]  # public channels only, by default
    both = client.users_conversations(user="U1", types="public_channel,private_channel", limit=100)
    assert "G1" in [c["id"] for c in both["channels"]] and both["channels"][0]["name"] == "general"
    with pytest.raises(SlackApiError) as err:
        client.users_conversations(user="U1", types="channels")
    assert err.value.response["error"] == "invalid_types"


def test_blocks_over_the_message_limit_are_invalid(fake, client):
    assert client.chat_postMessage(channel="C1", text="ok", blocks=[section()] * 50)["ok"]
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="C1", text="too many", blocks=[section()] * 51)
    assert caught.value.response["error"] == "invalid_blocks"
    assert "max 50" in caught.value.response["response_metadata"]["messages"][0]
    assert len(fake.messages("C1")) == 1


def test_dm_users_ephemeral_reactions_and_permalink(fake, client):
    fake.add_user("U2", "bob", tz="Europe/Berlin")
    dm = client.conversations_open(users="U2")["channel"]["id"]
    assert client.conversations_open(users="U2")["channel"]["id"] == dm
    posted = client.chat_postMessage(channel=dm, text="standup?")
    client.reactions_add(channel=dm, timestamp=posted["ts"], name="eyes")
    assert fake.messages("U2")[0]["reactions"][0]["name"] == "eyes"
    assert client.chat_getPermalink(channel=dm, message_ts=posted["ts"])["permalink"].endswith(
        posted["ts"].replace(".", ""))

    ephemeral = client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    assert fake.ephemerals("C1")[0]["ts"] == ephemeral["message_ts"]
    with pytest.raises(SlackApiError, match="user_not_in_channel"):
        client.chat_postEphemeral(channel="C1", user="U2", text="not a member")

    client.chat_delete(channel=dm, ts=posted["ts"])
    assert fake.messages(dm) == []


@freeze_time("2025-01-15 12:00:00")
def test_users_info_time_zone_fields(fake, client):
    fake.add_user("U2", "bob", tz="Europe/Berlin")
    user = client.users_info(user="U2")["user"]
    assert (user["tz"], user["tz_label"], user["tz_offset"]) == ("Europe/Berlin", "CET", 3600)
    assert user["is_bot"] is False and user["deleted"] is False
    with pytest.raises(SlackApiError, match="user_not_found"):
        client.users_info(user="U404")


def test_views_open_push_update_publish(fake, client):
    modal = {"type": "modal", "callback_id": "standup", "title": {"type": "plain_text", "text": "Standup"},
             "blocks": [section()]}
    opened = client.views_open(trigger_id="1.2.3", view=modal)["view"]
    pushed = client.views_push(trigger_id="1.2.4", view={**modal, "callback_id": "more"})["view"]
    assert opened["callback_id"] == "standup" and pushed["root_view_id"] == opened["id"]

    client.views_update(view_id=opened["id"], hash=opened["hash"], view={**modal, "blocks": []})
    with pytest.raises(SlackApiError, match="hash_conflict"):
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal)
    assert [m["blocks"] for m in fake.modals()] == [[], [section()]]

    client.views_publish(user_id="U1", view={"type": "home", "blocks": [section("home")]})
    assert fake.home("U1")["blocks"] == [section("home")]
    with pytest.raises(SlackApiError, match="invalid_blocks"):
        client.views_publish(user_id="U1", view={"type": "home", "blocks": [section()] * 101})


def test_response_url_acts_on_message_and_allows_five_uses(fake, client):
    ts = client.chat_postMessage(channel="C1", text="alert")["ts"]
    url = fake.new_response_url("C1", ts)

    first = requests.post(url, json={"replace_original": True, "text": "acknowledged"})
    assert first.json() == {"ok": True}
    assert fake.messages("C1")[0]["text"] == "acknowledged"
    for _ in range(4):
        assert requests.post(url, json={"text": "more"}).status_code == 200
    sixth = requests.post(url, json={"text": "too many"})
    assert (sixth.status_code, sixth.json()["error"]) == (404, "used_url")
    assert len(fake.responses(url)) == 5 and fake.responses()[0]["replace_original"] is True


def test_concurrent_posts_get_unique_increasing_ts(fake, client):
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda i: client.chat_postMessage(channel="C1", text=str(i)), range(40)))
    stamps = [a["ts"] for a in answers]
    assert len(set(stamps)) == 40
    assert [m["ts"] for m in fake.messages("C1")] == sorted(stamps, key=float)
    assert len(fake.calls("chat.postMessage")) == 40
