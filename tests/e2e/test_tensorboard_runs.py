"""TensorBoard log directories through the bot: connect a log root, track a run folder, hear
when it finishes (a DONE marker, as a training script writes at the end)."""

from __future__ import annotations

import html

from tensorboardX import SummaryWriter


def write_scalars(folder, values) -> None:
    writer = SummaryWriter(logdir=str(folder))
    for step, value in enumerate(values, start=1):
        writer.add_scalar("val/acc", value, step)
    writer.close()


def test_tensorboard_run_is_tracked_and_announced_when_done(bot, tmp_path):
    root = tmp_path / "logs"
    write_scalars(root / "sweep" / "run-a", [0.5, 0.6, 0.7])
    assert "Connected *tb*" in bot.reply(f"connect tensorboard {root} as tb")
    reply = html.unescape(bot.reply("track tb:sweep/run-a"))
    assert "Now tracking" in reply and "step 3" in reply
    bot.cycle()
    assert bot.fake.messages("C1") == []

    write_scalars(root / "sweep" / "run-a", [0.5, 0.6, 0.7, 0.8])  # a restart writes a new file
    (root / "sweep" / "run-a" / "DONE").write_text("")
    bot.clock.advance(minutes=1)
    bot.cycle()
    bot.cycle()
    finished = [m for m in bot.fake.messages("C1") if "finished" in m["text"]]
    assert len(finished) == 1 and "run-a" in finished[0]["text"]
    assert "0.8" in str(finished[0]["blocks"])


def test_tracking_a_missing_tensorboard_folder_changes_nothing(bot, tmp_path):
    (tmp_path / "logs").mkdir()
    bot.reply(f"connect tensorboard {tmp_path / 'logs'} as tb")
    assert "no run" in bot.reply("track tb:nope")
    outside = bot.reply("track tb:../etc")
    assert "must not contain" in outside and "Nothing was tracked" in outside
    assert "No runs are tracked" in bot.reply("runs")
