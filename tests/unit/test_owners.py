"""What a tracker's owner field says about a person (bot/core/owners.py)."""

from __future__ import annotations

import pytest

from bot.core.owners import TrackerOwner, read_owner


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
