"""What a tracker's owner field says about a person (bot/core/owners.py)."""

from __future__ import annotations

import pytest

from bot.core.owners import TrackerOwner, read_owner, username_key


@pytest.mark.parametrize("raw", [None, "", "   ", "unknown", "UNKNOWN", "None", "n/a", 12, ["alice"]])
def test_nobody(raw):
    assert read_owner(raw) is None


@pytest.mark.parametrize("raw, slack_id", [("U3", "U3"), ("U024BE7LH", "U024BE7LH"), ("<@U3>", "U3"),
                                           ("<@W12AB|alice>", "W12AB")])
def test_slack_ids(raw, slack_id):
    assert read_owner(raw).slack_id == slack_id


@pytest.mark.parametrize("raw", ["UBUNTU", "WANDB", "u3", "U", "alice"])
def test_usernames_that_look_a_little_like_ids_stay_names(raw):
    owner = read_owner(raw)
    assert owner.slack_id is None and owner.name == raw


def test_emails_are_lowercased_and_names_keep_their_spelling_but_match_ignoring_case():
    assert read_owner(" Alice@Example.COM ") == TrackerOwner(key="alice@example.com", email="alice@example.com")
    assert read_owner("Alice  Smith") == TrackerOwner(key="alice smith", name="Alice Smith")


def test_a_huge_owner_is_cut():
    assert len(read_owner("a" * 5000).name) == 200


@pytest.mark.parametrize("raw, name", [("ali\x00ce", "alice"), ("\x07bob\x7f", "bob"), ("carol\x1b[31m", "carol[31m"),
                                       ("dan\x85\x9f", "dan"), ("Eve\tSmith\n", "Eve Smith")])
def test_control_characters_are_dropped_and_tabs_and_newlines_are_spaces(raw, name):
    owner = read_owner(raw)
    assert owner.name == name and owner.key == name.lower()


@pytest.mark.parametrize("raw", ["\x00", "\x01\x02", "unk\x00nown"])
def test_an_owner_of_control_characters_only_is_nobody(raw):
    assert read_owner(raw) is None


def test_ids_and_emails_are_read_through_control_characters():
    assert read_owner("<@U3\x00>").slack_id == "U3"
    assert read_owner("alice@\x01example.com").email == "alice@example.com"


def test_a_claim_matches_the_owner_read_without_control_characters():
    assert username_key("Ali\x00ce") == read_owner("ali\x07ce").key == "alice"
