"""Working hours for `/ready standup now`: who is asked at once, who at the start of their day."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.core.working_hours import deferral

MON_0910_UTC = dt.datetime(2026, 11, 23, 9, 10, tzinfo=dt.UTC)


def utc(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.UTC)


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin"])
def test_a_member_inside_working_hours_is_asked_at_once(tz):
    assert deferral(tz, MON_0910_UTC) is None


def test_a_member_at_night_is_asked_at_0900_their_time_the_same_morning():
    # 09:10 UTC on Monday is 01:10 in Los Angeles (PST, UTC-8): asked at 09:00 PST = 17:00 UTC.
    found = deferral("America/Los_Angeles", MON_0910_UTC)
    assert found is not None
    assert found.prompt_at == utc(23, 17, 0)
    assert found.describe("U3") == "<@U3>: it is 01:10 for them; prompt at 09:00 their time"


def test_a_member_after_work_is_asked_the_next_morning():
    # 09:10 UTC is 18:10 in Tokyo: tomorrow 09:00 JST = 00:00 UTC on Tuesday.
    found = deferral("Asia/Tokyo", MON_0910_UTC)
    assert found is not None and found.prompt_at == utc(24, 0, 0)
    assert found.describe("U4") == "<@U4>: it is 18:10 for them; prompt at 09:00 their time"


def test_friday_evening_waits_for_monday_and_says_which_day():
    friday_evening = utc(27, 19, 30)  # Friday 27 Nov, 19:30 in London
    found = deferral("Europe/London", friday_evening)
    assert found is not None and found.prompt_at == utc(30, 9, 0)
    assert found.describe("U2") == "<@U2>: it is 19:30 for them; prompt at Mon 09:00 their time"


def test_the_weekend_is_named_as_such():
    found = deferral("Europe/Berlin", utc(22, 12, 0))  # Sunday 13:00 in Berlin
    assert found is not None and found.prompt_at == utc(23, 8, 0)
    assert found.describe("U2") == "<@U2>: it is Sun 13:00 for them; prompt at 09:00 their time"


def test_the_start_of_the_day_follows_daylight_saving_time():
    # 29 Mar 2026: Berlin moves to CEST (UTC+2) in the night; Monday's 09:00 is 07:00 UTC.
    found = deferral("Europe/Berlin", dt.datetime(2026, 3, 29, 23, 30, tzinfo=dt.UTC))
    assert found is not None and found.prompt_at == dt.datetime(2026, 3, 30, 7, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("tz", ["", "Mars/Olympus"])
def test_an_unknown_zone_is_asked_at_once(tz):
    assert deferral(tz, utc(23, 3, 0)) is None


def test_the_end_of_the_day_is_not_working_time():
    assert deferral("UTC", utc(23, 18, 0)) is not None
    assert deferral("UTC", utc(23, 17, 59)) is None
