"""People, not ids (issue 11): a run's owner, as its tracker names them, is shown as the Slack
member they are, found through a `/ready me` claim, a Slack id confirmed by users.info, or an
email through users.lookupByEmail; failed, stalled and diverged alerts mention them unless they
turned mentions off; an owner nobody can be found for shows the tracker's name, and a raw id or
"unknown" is never shown. Pushed runs through the real push API and signed Bolt requests."""

from __future__ import annotations

import html
import json
import re

import pytest
import requests
from sqlalchemy import func, select

from bot.notify.blocks import STOP_RUN
from bot.store.models import TrackerIdentity

CHANNEL = "C1"


def say(bot, text: str, user: str = "U1", team: str | None = None) -> str:
    extra = {"team_id": team} if team else {}
    return html.unescape(bot.reply(text, user_id=user, channel_id=CHANNEL, **extra))


def push(bot, token: str, ref: str = "resnet-7", **body) -> None:
    resp = requests.post(f"{bot.server.url}/api/v1/runs/{ref}", json={"state": "running", **body},
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert resp.status_code == 200, resp.text


def whole(message: dict) -> str:
    """Everything a reader sees of a message: its notification text and every block."""
    return html.unescape((message.get("text") or "") + json.dumps(message.get("blocks") or [], ensure_ascii=False))


def said(bot, word: str) -> list[dict]:
    bot.cycle()
    return [m for m in bot.fake.messages(CHANNEL) if word in (m.get("text") or "")]


@pytest.fixture
def team(bot):
    """U1 alice tracks pushed runs; U2 is Bob (handle bobby), U3 Carol (found by her email),
    U4 an admin. The push connection is called `trainer`."""
    bot.fake.add_user("U2", "bobby", real_name="Bob Okafor")
    bot.fake.add_user("U3", "carol", real_name="Carol Diaz", email="carol@example.com")
    bot.fake.add_user("U4", "erin", is_admin=True)
    bot.fake.add_channel(CHANNEL, "general", ["U0BOT", "U1", "U2", "U3", "U4"])
    token = re.search(r"`(rbp_[^`]+)`", say(bot, "connect push as trainer"))[1]
    return bot, token


def run_that_fails(bot, token: str, owner: str, ref: str = "resnet-7") -> dict:
    push(bot, token, ref=ref, step=10, total_steps=100, owner=owner)
    assert "Now tracking" in say(bot, f"track trainer:{ref}")
    push(bot, token, ref=ref, state="failed", step=20)
    [failed] = [m for m in said(bot, "failed") if ref in m["text"]]
    return failed


def test_a_claimed_owner_is_mentioned_when_their_run_fails(team):
    bot, token = team
    reply = say(bot, "me trainer:bob", user="U2")
    assert reply.startswith(":bust_in_silhouette: You are `trainer:bob`")
    failed = run_that_fails(bot, token, owner="bob")
    assert failed["text"].startswith(":x: <@U2>, your run *")  # the notification names them
    assert "bob" not in whole(failed).replace("<@U2>", "")  # not also as the tracker's name


def test_before_any_claim_the_tracker_name_is_shown_as_text(team):
    bot, token = team
    failed = run_that_fails(bot, token, owner="bob")
    assert failed["text"].startswith(":x: Run *") and "<@" not in whole(failed)
    assert "· bob" in whole(failed)


def test_mentions_off_names_the_owner_without_notifying_them(team):
    bot, token = team
    say(bot, "me trainer:bob", user="U2")
    assert say(bot, "me mentions off", user="U2").startswith(":no_bell: Mentions off")
    failed = run_that_fails(bot, token, owner="bob")
    assert "<@" not in whole(failed)
    assert "· bobby" in whole(failed)  # their Slack name, not the tracker's
    assert "mentions are off" not in say(bot, "me", user="U2") and "mentions on" in say(bot, "me", user="U2")


def test_an_owner_that_is_a_slack_id_is_a_mention_and_an_unknown_id_is_never_shown(team):
    bot, token = team
    failed = run_that_fails(bot, token, owner="U3")
    assert failed["text"].startswith(":x: <@U3>, your run")
    ghost = run_that_fails(bot, token, owner="U999", ref="ghost-1")
    assert "U999" not in whole(ghost) and "<@" not in whole(ghost)


def test_an_owner_email_finds_the_member_and_without_the_scope_shows_the_email(team):
    bot, token = team
    failed = run_that_fails(bot, token, owner="Carol@Example.com")
    assert failed["text"].startswith(":x: <@U3>, your run")
    assert bot.fake.calls("users.lookupByEmail")

    bot.fake.world.email_scope = False  # an install that was not granted users:read.email
    bot.services.clock.advance(hours=2)  # past what was remembered of Carol
    other = run_that_fails(bot, token, owner="dana@example.com", ref="resnet-8")
    assert "<@" not in whole(other) and "· dana@example.com" in whole(other)


@pytest.mark.parametrize("owner", ["unknown", "", "  "])
def test_a_placeholder_owner_shows_no_owner(team, owner):
    bot, token = team
    failed = run_that_fails(bot, token, owner=owner)
    context = failed["blocks"][-1]["elements"][0]["text"]
    assert "unknown" not in whole(failed).lower()
    assert context == "trainer · step 20/100"  # no owner part


def test_a_stalled_run_mentions_its_owner_and_a_finished_one_shows_them_quietly(team):
    bot, token = team
    say(bot, "me push:Bob", user="U2")  # by kind: any push connection
    push(bot, token, step=10, total_steps=100, owner="bob")
    say(bot, "track trainer:resnet-7")
    bot.clock.advance(minutes=45)
    [stalled] = said(bot, "stalled")
    assert stalled["text"].startswith(":hourglass: <@U2>, your run")
    push(bot, token, state="finished", step=100, owner="bob")
    [finished] = said(bot, "finished")
    assert finished["text"].startswith(":white_check_mark: Run *") and "<@U2>" in whole(finished)


def test_a_username_is_claimed_once_and_only_its_claimant_or_an_admin_removes_it(team):
    bot, token = team
    say(bot, "me trainer:bob", user="U2")
    taken = say(bot, "me trainer:BOB", user="U3")
    assert taken.startswith(":warning: `trainer:BOB` is already claimed by <@U2>") and "Nothing was changed" in taken
    refused = say(bot, "me remove trainer:bob", user="U3")
    assert refused.startswith(":warning: Only <@U2> who set it, or a workspace admin, can remove the claim")
    assert say(bot, "me trainer:bob", user="U2").startswith(":information_source: You already are")
    assert "You are `trainer:bob`" in say(bot, "me", user="U2")
    assert say(bot, "me remove trainer:bob", user="U4").startswith(":wastebasket: Removed the claim on `trainer:bob` (it was <@U2>'s)")
    assert "not claimed a tracker username" in say(bot, "me", user="U2")


@pytest.mark.parametrize("text, says", [
    ("me bob", "names no tracker"),
    ("me nosuch:bob", "neither a connection here"),
    ("me trainer:", "missing the username"),
    ("me mentions maybe", "takes `on` or `off`"),
    ("me remove", "missing a `<tracker>:<username>`"),
    ("me remove trainer:nobody", "Nobody has claimed"),
    ("me trainer:bob extra", "unexpected `extra`"),
])
def test_bad_me_input_is_explained_and_changes_nothing(team, text, says):
    bot, _token = team
    reply = say(bot, text, user="U2")
    assert reply.startswith(":warning:") and says in reply, reply
    with bot.services.store.tx() as s:
        assert s.scalar(select(func.count()).select_from(TrackerIdentity)) == 0


def test_a_claim_in_another_team_changes_nothing_here(team):
    bot, token = team
    say(bot, "me push:bob", user="U2", team="T2")
    failed = run_that_fails(bot, token, owner="bob")
    assert "<@" not in whole(failed) and "· bob" in whole(failed)


def test_the_runs_owner_may_stop_it(team):
    bot, token = team
    push(bot, token, step=10, total_steps=1000, owner="bob")
    say(bot, "track trainer:resnet-7")  # tracked by U1
    blocks = bot.command("runs", user_id="U2", channel_id=CHANNEL).json()["blocks"]
    [button] = [b["accessory"] for b in blocks if b.get("accessory", {}).get("action_id") == STOP_RUN]

    def click(user: str) -> str:
        before = len(bot.fake.ephemerals(CHANNEL))
        bot.slack.block_action(STOP_RUN, button["value"], user_id=user, channel_id=CHANNEL)
        bot.fake.wait_for(lambda: len(bot.fake.ephemerals(CHANNEL)) > before)
        return html.unescape(bot.fake.ephemerals(CHANNEL)[-1]["text"])

    assert click("U2").startswith(":warning: Only <@U1> who tracked or owns it")
    say(bot, "me trainer:bob", user="U2")
    assert click("U2").startswith(":octagonal_sign: Stop of run `trainer:resnet-7` sent.")


def test_the_digest_names_owners_without_notifying_them(team):
    bot, token = team
    say(bot, "me trainer:bob", user="U2")
    push(bot, token, step=10, total_steps=100, owner="bob")
    say(bot, "track trainer:resnet-7")
    say(bot, "digest now")
    bot.deliver()
    [digest] = [m for m in bot.fake.messages(CHANNEL) if m["text"].startswith("Run digest")]
    assert "resnet-7" in whole(digest)
    assert "<@U2>" not in whole(digest) and "bobby" in whole(digest)


def test_an_owner_with_control_characters_is_the_person_who_claimed_it(team):
    bot, token = team
    say(bot, "me trainer:bob", user="U2")
    failed = run_that_fails(bot, token, owner="b\x00o\x07b\x1b")
    assert failed["text"].startswith(":x: <@U2>, your run *")


def test_a_nul_in_an_owner_never_stops_the_message(team):
    """A NUL cannot be stored in PostgreSQL text, nor be a parameter of the claim lookup there."""
    bot, _token = team
    client = bot.services.clients.for_team("T1")
    shown = bot.services.people.present("T1", "run_failed", {"owner": "bo\x00b\x01", "connection": "trainer"}, client)
    assert shown["owner_name"] == "bob"
