"""The TensorBoard reader is an optional extra (`pip install 'readybot[tensorboard]'`). A bot
installed without it still answers a log-folder command, with that exact install command."""

from __future__ import annotations

import html
import sys

import pytest
from sqlalchemy import func, select
from tensorboardX import SummaryWriter

from bot.store.models import Connection

INSTALL = "pip install 'readybot[tensorboard]'"
# The reader's own modules import tensorboard; forgetting them makes the next import try again.
READER_MODULES = ("tracker", "paths", "reader", "state")


@pytest.fixture
def without_tensorboard(monkeypatch):
    """As if `tensorboard` were not installed: importing it fails as a missing package does."""

    def uninstall() -> None:
        # Submodules too: one already imported would be found without its parent package.
        for name in [n for n in sys.modules if n == "tensorboard" or n.startswith("tensorboard.")]:
            monkeypatch.setitem(sys.modules, name, None)
        monkeypatch.setitem(sys.modules, "tensorboard", None)
        for name in READER_MODULES:
            monkeypatch.delitem(sys.modules, f"integrations.tensorboard.{name}", raising=False)

    return uninstall


def say(bot, text: str) -> str:  # noqa: ANN001
    return html.unescape(bot.reply(text))


def test_connecting_a_log_folder_without_the_reader_names_the_install_command(bot, tmp_path, without_tensorboard):
    (tmp_path / "logs").mkdir()
    without_tensorboard()
    reply = say(bot, f"connect tensorboard {tmp_path / 'logs'} as tb")
    assert INSTALL in reply and "Nothing was saved" in reply
    assert "Traceback" not in reply
    with bot.services.store.tx() as s:
        assert s.scalar(select(func.count()).select_from(Connection)) == 0
    assert bot.fake.messages("C1") == []  # told to the one user, not the channel


def test_tracking_a_log_folder_after_the_reader_went_away_names_the_install_command(bot, tmp_path,
                                                                                   without_tensorboard):
    root = tmp_path / "logs"
    writer = SummaryWriter(logdir=str(root / "run-a"))
    writer.add_scalar("val/acc", 0.5, 1)
    writer.close()
    assert "Connected *tb*" in say(bot, f"connect tensorboard {root} as tb")
    without_tensorboard()  # e.g. an upgrade to a release where the reader became an extra
    # `track` builds its tracker anew for each command, as a restarted bot would.
    reply = say(bot, "track tb:run-a")
    assert INSTALL in reply and "Nothing was tracked" in reply
    assert "No runs are tracked" in say(bot, "runs")
    assert bot.fake.messages("C1") == []
