"""The PostgreSQL wake-up sent after commits (bot/store/listen.py Coalesced): the commits of a
poll's threads that land while one NOTIFY is under way share one more, and none goes unheard."""

from __future__ import annotations

import threading

import pytest

from bot.store.listen import Coalesced


def test_calls_made_while_a_send_is_under_way_share_one_more_send_after_it():
    sent: list[int] = []
    first_started, let_first_finish = threading.Event(), threading.Event()

    def send() -> None:
        sent.append(len(sent))
        if len(sent) == 1:
            first_started.set()
            assert let_first_finish.wait(10)

    wake = Coalesced(send)
    first = threading.Thread(target=wake)
    first.start()
    assert first_started.wait(10)
    others = [threading.Thread(target=wake) for _ in range(3)]
    for t in others:
        t.start()
    for t in others:
        t.join(10)
        assert not t.is_alive()  # they did not wait for the NOTIFY under way
    assert sent == [0]
    let_first_finish.set()
    first.join(10)
    assert sent == [0, 1]  # one more, begun after their calls, for the three of them
    wake()
    assert sent == [0, 1, 2]  # alone, a call sends at once


def test_a_failed_send_raises_to_its_caller_and_the_next_call_sends_again():
    attempts = []

    def send() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("the server went away")

    wake = Coalesced(send)
    with pytest.raises(OSError):
        wake()
    wake()
    assert len(attempts) == 2
