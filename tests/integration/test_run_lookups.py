"""Reads the poll makes for a whole answer at once (bot/store/runs.py): they fit any answer."""

from __future__ import annotations

import sqlite3

from bot.jobs import reviews
from bot.store import runs as q


def test_the_channels_and_reviews_of_an_answer_of_40000_runs_are_read_within_sqlites_variable_limit(store):
    # The statement binds the run ids twice (channels, reviews): SQLite counts both against its
    # variable limit, 32,766 in its default build (this machine's Python allows more: held to
    # the default here), so its chunks are half as long.
    with store.tx() as s:
        if not store.is_postgres:
            s.connection().connection.dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32_766)
        assert q.watchers_of_runs(s, list(range(1, 40_001)), reviews.WATCHED) == ({}, {})
