"""`column IN (values)` that keeps one plan on PostgreSQL whatever the number of values.

An IN list of N parameters is a different statement for each N, and psycopg prepares a
statement after a few executions, after which PostgreSQL may switch to a generic plan
(https://www.postgresql.org/docs/current/sql-prepare.html, "plan_cache_mode"): measured, a
generic plan for 500-ref chunks scanned every run of the connection (58 ms per chunk against
2 ms). `= ANY(:array)` is one statement with one array parameter, and its generic plan still
uses the index. SQLite has no arrays and no plan cache across statements: a plain IN list.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, any_, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

SQLITE_MAX = 30_000  # under SQLite's 32,766 variables per statement (SQLITE_MAX_VARIABLE_NUMBER)


def is_postgres(s: Session) -> bool:
    return s.get_bind().dialect.name == "postgresql"


def insert(s: Session, model: type):  # noqa: ANN201 - the dialect's Insert, with on_conflict_do_nothing
    return (postgresql.insert if is_postgres(s) else sqlite.insert)(model)


def one_of(s: Session, column: ColumnElement, values: Collection, item_type: TypeEngine) -> ColumnElement[bool]:
    if is_postgres(s):
        return column == any_(bindparam(None, list(values), type_=ARRAY(item_type)))
    return column.in_(list(values))


def one_of_param(dialect: str, column: ColumnElement, name: str, item_type: TypeEngine) -> ColumnElement[bool]:
    """one_of with a named parameter, for a statement built once and run with `{name: values}`:
    one array on PostgreSQL, an expanding IN list on SQLite."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(item_type)))
    return column.in_(bindparam(name, expanding=True))


def chunks(s: Session, values: Collection, uses: int = 1) -> list[list]:
    """The values in as few statements as the database allows: one on PostgreSQL. `uses`: how
    many times the statement binds each chunk (SQLite's limit counts every variable)."""
    values = list(values)
    size = SQLITE_MAX // uses
    if is_postgres(s) or len(values) <= size:
        return [values]
    return [values[i : i + size] for i in range(0, len(values), size)]
