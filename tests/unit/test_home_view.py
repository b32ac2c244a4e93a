"""The App Home view stays within Slack's 100 blocks however much each channel holds."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.notify.blockkit import block_kit_errors
from bot.notify.home_view import MAX_CHANNELS, PER_KIND, home_view
from bot.store.home import ChannelHome, HomeReview, HomeRun, HomeTarget

AT = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


def full_channel(i: int) -> ChannelHome:
    runs = [HomeRun(f"run-{n}", None, "running", 10, 100, "mlflow", f"r{n}", False) for n in range(PER_KIND)]
    targets = [HomeTarget(n, "val_acc", ">=", 0.9, 2, False) for n in range(PER_KIND)]
    reviews = [HomeReview(n, "Sweep", AT, "waiting") for n in range(PER_KIND)]
    return ChannelHome(f"C{i:03d}", runs, targets, reviews, {"runs": 40, "targets": 9, "reviews": 7})


def test_the_fullest_home_fits_and_names_the_channels_left_out():
    homes = [full_channel(i) for i in range(MAX_CHANNELS)]
    view = home_view(homes, [f"C9{i:02d}" for i in range(30)], notice=":warning: a note")
    assert len(view["blocks"]) <= 100
    assert block_kit_errors(view["blocks"], surface="home") == []
    text = str(view["blocks"])
    assert "and 37 more runs — `/ready runs` in <#C000>" in text and "and 6 more targets" in text
    assert "Also in 30 channels" in text and "and 10 more" in text


def test_an_empty_home_has_a_note_when_there_is_one():
    view = home_view([], [], notice="Removed target #1")
    assert "Removed target #1" in str(view["blocks"][1]) and "/ready connect" in str(view["blocks"])
