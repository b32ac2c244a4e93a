"""Events API: App Home publishing, and Slack's retried deliveries handled once."""

from __future__ import annotations

from bot.sandbox import block_kit_errors
from tests.kill9 import wait_until


def home_opened(user: str = "U1") -> dict:
    return {"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home", "event_ts": "1.0"}


def test_home_tab_shows_the_users_runs(bot):
    bot.reply("connect push as trainer")
    bot.reply("track trainer:resnet-7")
    resp = bot.slack.event(home_opened(), event_id="Ev1")
    assert resp.status_code == 200
    assert bot.fake.wait_for(lambda: bot.fake.home("U1"))
    view = bot.fake.home("U1")
    text = str(view["blocks"])
    assert "resnet-7" in text and "trainer" in text
    assert block_kit_errors(view["blocks"], surface="home") == []


def test_retried_event_delivery_is_handled_once(bot):
    bot.slack.event(home_opened(), event_id="Ev42")
    assert bot.fake.wait_for(lambda: bot.fake.calls("views.publish"))
    for retry in (1, 2, 3):
        assert bot.slack.event(home_opened(), event_id="Ev42", retry_num=retry).status_code == 200
    # A fresh event proves the listener is still live, and orders the check after the retries.
    bot.slack.event(home_opened("U1"), event_id="Ev43")
    assert bot.fake.wait_for(lambda: len(bot.fake.calls("views.publish")) >= 2)
    assert len(bot.fake.calls("views.publish")) == 2


# --- A Home tab for everyone (issue 11): every channel the viewer is in, with buttons -------------

def team_home(bot) -> None:
    """bob tracks a run and sets a target in #ml-team (C2), alice's channel too; in #secret (C3),
    which alice is not in, bob tracks another run. dan is a workspace admin in #ml-team."""
    bot.fake.add_user("U2", "bob")
    bot.fake.add_user("U9", "dan", is_admin=True)
    bot.fake.add_channel("C2", "ml-team", ["U0BOT", "U1", "U2", "U9"])
    bot.fake.add_channel("C3", "secret", ["U0BOT", "U2"])
    bot.reply("connect push as trainer", user_id="U2", channel_id="C2")
    assert "Now tracking" in bot.reply("track trainer:resnet-7", user_id="U2", channel_id="C2")
    assert "Target" in bot.reply("target val_acc >= 0.9", user_id="U2", channel_id="C2")
    assert "Now tracking" in bot.reply("track trainer:hidden-run", user_id="U2", channel_id="C3")


def open_home(bot, user: str) -> dict:
    before = len(bot.fake.calls("views.publish"))
    bot.slack.event(home_opened(user), event_id=f"Ev-{user}-{before}")
    assert bot.fake.wait_for(lambda: len(bot.fake.calls("views.publish")) > before)
    view = bot.fake.home(user)
    assert block_kit_errors(view["blocks"], surface="home") == []
    return view


def home_text(view: dict) -> str:
    return str(view["blocks"])


def home_button(view: dict, action_id: str, contains: str = "") -> str:
    """The value of the first button `action_id` whose block mentions `contains`."""
    for block in view["blocks"]:
        elements = [block["accessory"]] if "accessory" in block else block.get("elements") or []
        for element in elements:
            if element.get("action_id") == action_id and contains in str(block):
                return element["value"]
    raise AssertionError(f"no {action_id} button near {contains!r}")


def click(bot, view: dict, action_id: str, value: str, user: str) -> dict:
    """Click a Home button; returns the Home view republished after it."""
    before = len(bot.fake.calls("views.publish"))
    resp = bot.slack.block_action(action_id, value, user_id=user, view=view)
    assert resp.status_code == 200
    assert bot.fake.wait_for(lambda: len(bot.fake.calls("views.publish")) > before)
    return bot.fake.home(user)


def test_home_shows_every_channel_the_viewer_is_in_not_only_what_they_created(bot):
    team_home(bot)
    view = open_home(bot, "U1")  # alice created nothing
    text = home_text(view)
    assert "<#C2>" in text and "resnet-7" in text and "val_acc &gt;= 0.9" in text
    assert "hidden-run" not in text and "<#C3>" not in text  # not her channel
    assert bot.fake.calls("users.conversations")[-1].params["user"] == "U1"


def test_a_home_button_refuses_what_only_the_creator_or_an_admin_may_do(bot):
    team_home(bot)
    view = click(bot, open_home(bot, "U1"), "home_untrack", home_button(open_home(bot, "U1"), "home_untrack",
                                                                        "resnet-7"), "U1")
    note = home_text(view)
    assert "Only <@U2> who set it, or a workspace admin, can stop tracking" in note and "Nothing was changed" in note
    assert "resnet-7" in note  # still tracked
    assert "resnet-7" in bot.reply("runs", user_id="U2", channel_id="C2")


def test_an_admin_removes_a_target_from_home_and_home_is_redrawn(bot):
    team_home(bot)
    view = open_home(bot, "U9")
    after = click(bot, view, "home_target_remove", home_button(view, "home_target_remove", "val_acc"), "U9")
    assert "Removed target #1" in home_text(after)
    assert "Remove" not in [b.get("accessory", {}).get("text", {}).get("text") for b in after["blocks"]]
    assert "No targets" in bot.reply("targets", user_id="U2", channel_id="C2")


def test_the_creator_untracks_from_home(bot):
    team_home(bot)
    view = open_home(bot, "U2")
    assert "<#C3>" in home_text(view) and "hidden-run" in home_text(view)
    after = click(bot, view, "home_untrack", home_button(view, "home_untrack", "hidden-run"), "U2")
    assert "Stopped tracking `trainer:hidden-run` in <#C3>" in home_text(after)
    assert "No runs are tracked" in bot.reply("runs", user_id="U2", channel_id="C3")


def test_a_forged_channel_in_a_home_button_changes_nothing(bot):
    team_home(bot)
    view = open_home(bot, "U1")
    forged = '{"channel":"C3","conn":"trainer","ref":"hidden-run","experiment":false}'
    after = click(bot, view, "home_untrack", forged, "U1")
    assert "not a member of that channel" in home_text(after)
    assert "hidden-run" in bot.reply("runs", user_id="U2", channel_id="C3")


def test_postponing_a_review_from_home_checks_who_may(bot):
    team_home(bot)
    bot.fake.add_user("U2", "bob", tz="UTC")
    assert "Scheduled review #1" in bot.reply('review "Sweep" at tomorrow 15:00 runs trainer:resnet-7',
                                              user_id="U2", channel_id="C2")
    view = open_home(bot, "U1")
    assert "Sweep" in home_text(view)
    after = click(bot, view, "home_postpone", home_button(view, "home_postpone", "Sweep"), "U1")
    assert "Only <@U2> who set it, or a workspace admin, can postpone review #1" in home_text(after)


def test_the_review_button_opens_the_form_for_that_channel_with_its_runs(bot):
    team_home(bot)
    view = open_home(bot, "U1")
    opened = len(bot.fake.modals())
    bot.slack.block_action("home_review", home_button(view, "home_review", "results review"), user_id="U1", view=view)
    assert bot.fake.wait_for(lambda: len(bot.fake.modals()) > opened)
    form = bot.fake.modals()[-1]
    assert form["callback_id"] == "review_modal" and form["private_metadata"].startswith("C2 ")
    assert "trainer:resnet-7" in str(form["blocks"])
    before = len(bot.fake.calls("views.publish"))
    resp = bot.slack.view_submission("review_modal", {"title": {"value": "Sweep"}, "when": {"value": "tomorrow 15:00"},
                                                      "runs": {"value": "trainer:resnet-7"}}, user_id="U1")
    assert resp.status_code == 200
    assert bot.fake.wait_for(lambda: len(bot.fake.calls("views.publish")) > before)
    home = home_text(bot.fake.home("U1"))
    assert "Scheduled review #1" in home and "Sweep" in home and "home_postpone" in home


def test_connect_a_tracker_from_home(bot):
    view = open_home(bot, "U1")
    opened = len(bot.fake.modals())
    bot.slack.block_action("home_connect", "connect", user_id="U1", view=view)
    assert bot.fake.wait_for(lambda: len(bot.fake.modals()) > opened)
    assert bot.fake.modals()[-1]["callback_id"] == "connect_modal"
    before = len(bot.fake.calls("views.publish"))
    resp = bot.slack.view_submission("connect_modal", {"kind": {"value": {"type": "static_select",
                                     "selected_option": {"value": "push"}}}, "name": {"value": "pusher"}}, user_id="U1")
    assert resp.status_code == 200
    assert bot.fake.wait_for(lambda: len(bot.fake.calls("views.publish")) > before)
    assert "Push connection *pusher* created" in home_text(bot.fake.home("U1"))
    assert "rbp_" in bot.fake.messages("DU1")[-1]["text"]  # the token, by DM to that user alone


def test_an_empty_home_explains_the_first_three_commands(bot):
    text = home_text(open_home(bot, "U1"))
    assert "/ready connect" in text and "/ready track" in text and "/ready target" in text


def test_a_big_workspace_fits_in_one_home_view_and_says_what_is_left_out(bot):
    bot.reply("connect push as trainer")
    for i in range(12):
        channel = f"C9{i:02d}"
        bot.fake.add_channel(channel, f"team-{i}", ["U0BOT", "U1"])
        for run in range(5 if i == 0 else 1):
            bot.reply(f"track trainer:run-{i}-{run}", channel_id=channel)
    view = open_home(bot, "U1")
    assert len(view["blocks"]) <= 100
    text = home_text(view)
    assert "and 2 more runs — `/ready runs` in <#C900>" in text
    assert "Also in 5 channels" in text and "<#C911>" in text


def test_users_conversations_is_read_page_by_page(bot):
    bot.reply("connect push as trainer")
    for i in range(450):  # more than two pages of 200
        bot.fake.add_channel(f"C8{i:03d}", f"c-{i}", ["U1"])
    bot.fake.add_channel("C8999", "last", ["U0BOT", "U1"])
    bot.reply("track trainer:late-run", channel_id="C8999")
    assert "late-run" in home_text(open_home(bot, "U1"))
    assert len(bot.fake.calls("users.conversations")) >= 3


def test_a_home_click_when_slack_cannot_list_channels_changes_nothing_and_says_so(bot):
    team_home(bot)
    view = open_home(bot, "U2")
    bot.fake.fail_next("users.conversations", "internal_error")
    after = click(bot, view, "home_untrack", home_button(view, "home_untrack", "hidden-run"), "U2")
    assert "nothing was changed" in home_text(after)
    assert "hidden-run" in bot.reply("runs", user_id="U2", channel_id="C3")


def test_home_opened_by_a_user_slack_does_not_know_is_one_log_line_not_a_traceback(bot, caplog):
    """Found by the HTTP fuzz: views.publish answering user_not_found escaped the listener."""
    from bot.listeners.home import publish
    from bot.sandbox.world import TEAM_ID

    publish(bot.services, bot.services.clients.for_team(TEAM_ID), TEAM_ID, "U404NOBODY")  # what the event runs
    assert "views.publish for the Home of U404NOBODY failed: user_not_found" in caplog.text
    assert not any(r.exc_info for r in caplog.records)
    resp = bot.slack.event(home_opened("U404NOBODY"), event_id="Ev404")
    assert resp.status_code == 200


def test_home_opened_while_slack_is_unreachable_is_one_log_line_not_a_traceback(bot, caplog):
    """Seen in the HTTP fuzz under load: views.publish meeting a refused connection left a
    traceback in the log (Bolt's listener error handler) for an event that was already acked."""
    open_home(bot, "U1")  # Bolt checks the token (auth.test) on the first request, then keeps it
    bot.fake.stop()  # Slack's API goes away; the bot's own HTTP server still answers events
    resp = bot.slack.event(home_opened("U1"), event_id="EvDown")
    assert resp.status_code == 200
    # The stopped fake notifies nobody, so wait on the log itself.
    assert wait_until(lambda: "could not reach Slack" in caplog.text, timeout=30)
    assert "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records)
