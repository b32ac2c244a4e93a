"""Async standups end to end: signed /ready commands and button clicks, the standup job called
directly at chosen clock times (instead of waiting for the scheduler), the outbox, fake Slack.

The team: bob in Berlin (09:30 CET = 08:30 UTC), carol in New York (09:30 EST = 14:30 UTC),
dave in Tokyo (09:30 JST = 00:30 UTC), and a bot that must never be asked.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.jobs.standups import standup_tick
from bot.sandbox.world import TEAM_ID
from bot.store.models import Connection, Run, Schedule, StandupAnswer, Watch, WatchRun
from tests.concurrency import run_together
from tests.slack_text import shown

CH = "C2"
SUN_NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def team(bot):
    bot.fake.add_user("U2", "bob", tz="Europe/Berlin", real_name="Bob Berg")
    bot.fake.add_user("U3", "carol", tz="America/New_York", real_name="Carol Young")
    bot.fake.add_user("U4", "dave", tz="Asia/Tokyo")
    bot.fake.add_user("B9", "ci-bot", is_bot=True)
    bot.fake.add_channel(CH, "ml-team", ["U0BOT", "U2", "U3", "U4", "B9"])
    bot.clock.now = SUN_NOON
    return bot


def schedule(bot, text: str = "standup at 09:30") -> str:
    return html.unescape(bot.reply(text, user_id="U2", channel_id=CH))


def tick(bot, when: datetime) -> None:
    bot.clock.now = when
    standup_tick(bot.services)
    bot.deliver()


def dms(bot, user: str) -> list[dict]:
    return bot.fake.messages(user)


def buttons(message: dict) -> dict[str, str]:
    return {e["action_id"]: e["value"] for b in message.get("blocks") or [] if b["type"] == "actions"
            for e in b["elements"]}


def head_and_thread(bot) -> tuple[dict, list[dict]]:
    messages = bot.fake.messages(CH)
    heads = [m for m in messages if "thread_ts" not in m]
    assert len(heads) == 1, [shown(m) for m in heads]
    return heads[0], [m for m in messages if m.get("thread_ts") == heads[0]["ts"]]


def answer(bot, user: str, texts: list[str]) -> dict:
    """Click Answer in the user's prompt, wait for the modal, submit it; returns the modal."""
    prompt = dms(bot, user)[0]
    opened = len(bot.fake.modals())
    resp = bot.slack.block_action("standup_answer", buttons(prompt)["standup_answer"], user_id=user,
                                  channel_id="D" + user, message_ts=prompt["ts"])
    assert resp.status_code == 200
    bot.fake.wait_for(lambda: len(bot.fake.modals()) > opened)
    modal = bot.fake.modals()[-1]
    values = {f"q{i}": {"value": {"type": "plain_text_input", "value": t}} for i, t in enumerate(texts)}
    resp = bot.slack.view_submission("standup_answer_view", values, user_id=user)
    assert resp.status_code == 200 and not resp.text.strip(), resp.text
    bot.deliver()
    return modal


def test_members_in_two_time_zones_get_their_prompts_at_their_own_0930(team):
    assert "09:30 on weekdays" in schedule(team)
    tick(team, SUN_NOON)
    tick(team, at(23, 8, 29))
    assert dms(team, "U2") == [] and dms(team, "U3") == []
    tick(team, at(23, 8, 30))
    assert len(dms(team, "U2")) == 1 and dms(team, "U3") == []
    prompt = dms(team, "U2")[0]
    assert "What did you get done since the last standup?" in shown(prompt)
    assert set(buttons(prompt)) == {"standup_answer", "standup_skip", "standup_away"}
    head, _ = head_and_thread(team)
    assert "Standup, Mon 23 Nov" in shown(head)
    tick(team, at(23, 14, 29))
    assert dms(team, "U3") == []
    tick(team, at(23, 14, 30))
    assert len(dms(team, "U3")) == 1 and len(dms(team, "U2")) == 1
    assert dms(team, "B9") == []  # bots are never asked


def add_run(bot, name: str, owner: str, state: str, ended_at: datetime | None) -> None:
    now = bot.clock.now
    with bot.services.store.tx() as s:
        conn = s.scalar(select(Connection).where(Connection.name == "push"))
        if conn is None:
            conn = Connection(team_id=TEAM_ID, name="push", kind="push", created_at=now)
            s.add(conn)
            s.flush()
        run = Run(connection_id=conn.id, ref=name, name=name, state=state, owner=owner, ended_at=ended_at,
                  metrics={"val_acc": 0.91}, created_at=now, updated_at=ended_at or now)
        watch = Watch(team_id=TEAM_ID, channel_id=CH, connection_id=conn.id, ref=name, created_at=now)
        s.add_all([run, watch])
        s.flush()
        s.add(WatchRun(watch_id=watch.id, run_id=run.id))


def test_answers_thread_reminder_and_summary(team):
    schedule(team)
    add_run(team, "bob-resnet", "bob", "finished", at(23, 7, 0))
    add_run(team, "carol-vit", "carol.young@lab.org", "failed", at(23, 7, 0))
    add_run(team, "bob-old", "bob", "finished", at(20, 7, 0))  # before the lookback: not news
    tick(team, at(23, 0, 30))
    dave_prompt = dms(team, "U4")[0]
    team.slack.block_action("standup_skip", buttons(dave_prompt)["standup_skip"], user_id="U4",
                            channel_id="DU4", message_ts=dave_prompt["ts"])
    team.fake.wait_for(lambda: "Skipped" in shown(dms(team, "U4")[0]))

    tick(team, at(23, 8, 30))
    modal = answer(team, "U2", ["Trained the resnet", "Tune the lr", ""])
    prefilled = modal["blocks"][1]["element"]["initial_value"]
    assert "bob-resnet finished — val_acc 0.91" in prefilled
    assert "carol-vit" not in prefilled and "bob-old" not in prefilled
    head, thread = head_and_thread(team)
    assert len(thread) == 1
    assert "<@U2>" in shown(thread[0]) and "Trained the resnet" in shown(thread[0])
    assert thread[0]["text"] == ":speech_balloon: *<@U2>* answered the standup"  # the notification says what
    assert "Tune the lr" in shown(thread[0])

    tick(team, at(23, 11, 30))  # bob answered: no reminder for him
    assert len(dms(team, "U2")) == 1
    tick(team, at(23, 14, 30))
    tick(team, at(23, 17, 29))
    assert len(dms(team, "U3")) == 1
    tick(team, at(23, 17, 30))
    tick(team, at(23, 17, 45))
    assert len(dms(team, "U3")) == 2  # exactly one reminder, to the member who did not answer
    assert "Reminder" in shown(dms(team, "U3")[1]) and "standup_answer" in buttons(dms(team, "U3")[1])
    assert len(dms(team, "U4")) == 1  # dave skipped: no reminder

    tick(team, at(23, 18, 30))
    head, thread = head_and_thread(team)
    summary = shown(thread[-1])
    assert "1 of 3 answered" in summary
    assert "Skipped today:*\n<@U4>" in summary and "No answer:*\n<@U3>" in summary
    assert "closed: 1 of 3 answered" in shown(head)
    tick(team, at(23, 19, 0))
    assert len(head_and_thread(team)[1]) == 2  # one answer, one summary


def test_a_member_without_runs_of_their_own_gets_the_channels_run_changes(team):
    schedule(team)
    add_run(team, "someone-elses-run", "zed", "finished", at(23, 7, 0))
    tick(team, at(23, 14, 30))
    modal = answer(team, "U3", ["x"])
    prefilled = modal["blocks"][1]["element"]["initial_value"]
    assert prefilled.startswith("Run updates in the channel:") and "someone-elses-run finished" in prefilled


def test_runs_under_a_username_the_member_claimed_are_theirs_in_the_prompt(team):
    schedule(team)
    add_run(team, "gpu7-sweep", "zz-gpu7", "finished", at(23, 7, 0))
    add_run(team, "someone-elses-run", "zed", "finished", at(23, 7, 0))
    assert "You are `push:zz-gpu7`" in html.unescape(team.reply("me push:zz-gpu7", user_id="U3", channel_id=CH))
    tick(team, at(23, 14, 30))
    prefilled = answer(team, "U3", ["x"])["blocks"][1]["element"]["initial_value"]
    assert "gpu7-sweep finished" in prefilled and "someone-elses-run" not in prefilled


def test_editing_an_answer_updates_its_thread_message(team):
    schedule(team)
    tick(team, at(23, 8, 30))
    answer(team, "U2", ["first"])
    answer(team, "U2", ["second"])
    _, thread = head_and_thread(team)
    assert len(thread) == 1 and "second" in shown(thread[0]) and "(edited)" in shown(thread[0])


def test_nothing_is_sent_on_days_off(team):
    schedule(team, "standup at 09:30 on mon,wed")
    tick(team, at(23, 19, 0))  # after Monday's last window
    sent = len(team.fake.calls("chat.postMessage"))
    when = at(24, 0, 0)
    while when < at(24, 23, 59):  # all of Tuesday, every 15 minutes
        tick(team, when)
        when += timedelta(minutes=15)
    assert len(team.fake.calls("chat.postMessage")) == sent
    tick(team, at(25, 0, 30))  # Wednesday in Tokyo
    assert len(team.fake.calls("chat.postMessage")) > sent


def test_weekends_are_off_by_default(team):
    schedule(team)
    team.clock.now = at(27, 20, 0)
    tick(team, at(27, 20, 0))  # after Friday's windows
    sent = len(team.fake.calls("chat.postMessage"))
    when = at(28, 0, 0)
    while when < at(29, 23, 59):
        tick(team, when)
        when += timedelta(minutes=30)
    assert len(team.fake.calls("chat.postMessage")) == sent


def test_away_until_a_date_pauses_prompts(team):
    schedule(team)
    tick(team, at(23, 8, 30))
    prompt = dms(team, "U2")[0]
    opened = len(team.fake.modals())
    team.slack.block_action("standup_away", buttons(prompt)["standup_away"], user_id="U2", channel_id="DU2",
                            message_ts=prompt["ts"])
    team.fake.wait_for(lambda: len(team.fake.modals()) > opened)
    assert team.fake.modals()[-1]["callback_id"] == "standup_away_view"
    resp = team.slack.view_submission(
        "standup_away_view", {"until": {"date": {"type": "datepicker", "selected_date": "2026-11-24"}}},
        user_id="U2")
    assert resp.status_code == 200 and not resp.text.strip(), resp.text
    team.fake.wait_for(lambda: any("away until Tue 24 Nov" in shown(m) for m in dms(team, "U2")))
    tick(team, at(24, 8, 30))  # Tuesday: away
    tick(team, at(24, 12, 30))
    assert not any("Tue 24 Nov" in shown(m) and "Time for" in shown(m) for m in dms(team, "U2"))
    tick(team, at(25, 8, 30))  # Wednesday: back
    assert any("Wed 25 Nov" in shown(m) for m in dms(team, "U2"))
    tick(team, at(23, 19, 0))
    with team.services.store.tx() as s:
        statuses = {(a.round_id, a.user_id): a.status for a in s.scalars(select(StandupAnswer))}
    assert statuses[(1, "U2")] == "away" and statuses[(2, "U2")] == "away"


def all_awake(team) -> None:
    """Monday 14:30 UTC with dave in London: working hours for all three (Berlin 15:30, NY 09:30)."""
    team.fake.add_user("U4", "dave", tz="Europe/London")
    team.clock.now = at(23, 14, 30)


def test_standup_now_asks_everyone_at_once(team):
    all_awake(team)
    reply = html.unescape(team.reply("standup now", user_id="U2", channel_id=CH))
    assert "3 members get the questions by DM now" in reply and "outside working hours" not in reply
    team.deliver()
    assert all(len(dms(team, u)) == 1 for u in ("U2", "U3", "U4"))
    answer(team, "U3", ["done"])
    assert "done" in shown(head_and_thread(team)[1][0])


def test_questions_can_be_edited_from_the_reply(team):
    schedule(team)
    opened = len(team.fake.modals())
    team.slack.block_action("standup_questions", CH, user_id="U2", channel_id=CH)
    team.fake.wait_for(lambda: len(team.fake.modals()) > opened)
    resp = team.slack.view_submission("standup_questions_view", {"questions": {"value": "Wins?\n\nRisks?"}},
                                      user_id="U2")
    assert resp.status_code == 200
    with team.services.store.tx() as s:
        assert s.scalar(select(Schedule.questions).where(Schedule.kind == "standup")) == {
            "questions": ["Wins?", "Risks?"]}
    tick(team, at(23, 8, 30))
    assert "Wins?" in shown(dms(team, "U2")[0]) and "blocking" not in shown(dms(team, "U2")[0])


def test_standup_off_stops_prompts_already_planned(team):
    schedule(team)
    tick(team, at(22, 20, 0))  # Monday's round is planned (09:30 has begun at UTC+14)
    assert "off" in team.reply("standup off", user_id="U2", channel_id=CH)
    tick(team, at(23, 8, 30))
    tick(team, at(23, 14, 30))
    assert dms(team, "U2") == [] and dms(team, "U3") == [] and team.fake.messages(CH) == []


def test_a_new_time_replans_the_next_standup(team):
    schedule(team)
    tick(team, at(22, 20, 0))
    team.clock.now = at(22, 21, 0)
    schedule(team, "standup at 10:00")
    tick(team, at(23, 8, 30))
    assert dms(team, "U2") == []
    tick(team, at(23, 9, 0))  # 10:00 in Berlin
    assert len(dms(team, "U2")) == 1


def test_replicas_running_the_job_together_prompt_once(team):
    schedule(team)
    team.clock.now = at(23, 8, 30)
    run_together(standup_tick, team.services)
    team.deliver()
    assert len(dms(team, "U2")) == 1
    assert len(head_and_thread(team)[1]) == 0


def test_standup_now_at_night_for_a_member_asks_them_at_the_start_of_their_day(team):
    team.clock.now = at(23, 14, 30)  # Monday: 15:30 in Berlin, 09:30 in New York, 23:30 in Tokyo
    reply = html.unescape(team.reply("standup now", user_id="U2", channel_id=CH))
    assert "2 members get the questions by DM now" in reply
    assert "<@U4>: it is 23:30 for them; prompt at 09:00 their time" in reply
    team.deliver()
    assert len(dms(team, "U2")) == 1 and len(dms(team, "U3")) == 1 and dms(team, "U4") == []
    head, _ = head_and_thread(team)
    assert "at the start of their working day" in shown(head)
    tick(team, at(23, 23, 59))
    assert dms(team, "U4") == []
    tick(team, at(24, 0, 0))  # 09:00 in Tokyo
    assert len(dms(team, "U4")) == 1
    answer(team, "U4", ["reviewed the ablation"])
    assert any("reviewed the ablation" in shown(m) for m in head_and_thread(team)[1])


def test_standup_now_asks_whoever_typed_it_at_once_even_on_their_weekend(team):
    reply = html.unescape(team.reply("standup now", user_id="U2", channel_id=CH))  # Sunday noon
    assert "1 member gets the questions by DM now" in reply
    assert "<@U3>: it is Sun 07:00 for them; prompt at 09:00 their time" in reply
    assert "<@U4>: it is Sun 21:00 for them; prompt at 09:00 their time" in reply
    team.deliver()
    assert len(dms(team, "U2")) == 1 and dms(team, "U3") == [] and dms(team, "U4") == []


def test_standup_now_twice_asks_everyone_once(team):
    all_awake(team)
    assert "3 members" in team.reply("standup now", user_id="U2", channel_id=CH)
    again = html.unescape(team.reply("standup now", user_id="U3", channel_id=CH))
    assert "already under way" in again and "Nobody was asked twice" in again
    team.deliver()
    assert all(len(dms(team, u)) == 1 for u in ("U2", "U3", "U4"))
    head_and_thread(team)  # one standup message
    team.clock.now += timedelta(hours=5)  # that window is over: a new one may start
    tick(team, team.clock.now)
    assert "Standup started" in team.reply("standup now", user_id="U2", channel_id=CH)


def test_members_slack_will_not_describe_are_still_asked(team):
    team.fake.fail_next("users.info", "internal_error", count=5)  # every member of the channel
    reply = html.unescape(team.reply("standup now", user_id="U2", channel_id=CH))
    team.deliver()
    # bob, carol, dave and the ci bot (Slack would not say it is one), never readybot itself
    assert "4 members" in reply
    assert all(len(dms(team, u)) == 1 for u in ("U2", "U3", "U4"))
    assert dms(team, "U0BOT") == []


def test_a_standup_whose_members_cannot_be_listed_says_so_once_and_retries(team):
    schedule(team)
    team.fake.fail_next("conversations.members", "not_in_channel", count=3)
    for step in range(5):  # a job tick every 20 s, as with a short READYBOT_POLL_SECONDS
        tick(team, at(23, 0, 30) + timedelta(seconds=20 * step))
    tick(team, at(23, 0, 35))
    warnings = [m for m in team.fake.messages(CH) if "could not start" in (m.get("text") or "")]
    assert len(warnings) == 1 and "readybot still in the channel" in shown(warnings[0])
    assert len(team.fake.calls("conversations.members")) == 3  # 00:30, 00:31, 00:35: once a minute at most
    tick(team, at(23, 8, 30))  # Slack lists them again: bob is asked at his 09:30
    assert len(dms(team, "U2")) == 1
