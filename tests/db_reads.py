"""How much a database read for the statements of a block: what a claim costs, counted rather than
timed, so that a test or a benchmark on a shared, noisy machine can compare two sizes of queue."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.orm import Session

# This transaction's reads of the table and its indexes (pg_stat_xact_*, counted per transaction).
_PG_READS = text(
    "SELECT sum(pg_stat_get_xact_tuples_returned(c.oid) + pg_stat_get_xact_tuples_fetched(c.oid))"
    " FROM pg_class c WHERE c.oid = CAST(:table AS regclass)"
    " OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = CAST(:table AS regclass))")


@contextmanager
def rows_read(session: Session, table: str) -> Iterator[list[int]]:
    """On PostgreSQL the rows and index entries of `table` read meanwhile; on SQLite the virtual
    machine's steps, in hundreds (it keeps no such counts). The number is in the list at the end."""
    got: list[int] = []
    if session.get_bind().dialect.name == "postgresql":
        before = session.scalar(_PG_READS, {"table": table})
        yield got
        got.append(int(session.scalar(_PG_READS, {"table": table}) - before))
        return
    sqlite = session.connection().connection.dbapi_connection
    steps = [0]

    def step() -> int:
        steps[0] += 1
        return 0  # go on

    sqlite.set_progress_handler(step, 100)
    try:
        yield got
    finally:
        sqlite.set_progress_handler(None, 0)
    got.append(steps[0])
