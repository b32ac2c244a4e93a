"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, event, text

from bot.store.migrate import current_tables, upgrade
from bot.store.models import Base
from tests.conftest import PG_URL, _postgres_ready


def test_migrations_match_the_models(store):
    upgrade(store.engine)  # a second upgrade is a no-op
    assert set(Base.metadata.tables) <= current_tables(store.engine)
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


@contextmanager
def fresh_schema() -> Iterator[str]:
    """The URL of an empty PostgreSQL schema of its own, dropped afterwards."""
    if reason := _postgres_ready():
        pytest.fail(reason) if os.environ.get("CI") else pytest.skip(reason)
    schema = f"rb_test_mig_{os.getpid()}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def test_the_migration_lock_is_freed_only_after_the_migration_committed():
    """Replicas starting together on one PostgreSQL migrate one at a time under an advisory lock.
    The next one to take the lock must find the schema committed; released before the commit, it
    saw no tables, created them again, and stopped with "current transaction is aborted"
    (measured: 1 of 3 `readybot serve` processes started together on a fresh schema)."""
    with fresh_schema() as url:
        migrating, next_replica = create_engine(url), create_engine(url)
        seen_at_unlock: list[bool] = []

        @event.listens_for(migrating, "before_cursor_execute")
        def _look_from_elsewhere(conn, cursor, statement, *args):  # noqa: ANN001, ANN002
            if "pg_advisory_unlock" in statement:
                with next_replica.connect() as other:
                    seen_at_unlock.append(other.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL")))

        try:
            upgrade(migrating)
        finally:
            migrating.dispose()
            next_replica.dispose()
    assert seen_at_unlock == [True]


def test_a_start_that_migrated_leaves_the_planner_statistics_of_every_table():
    """ANALYZE after migrating: PostgreSQL (14 and later) gives a table never analyzed
    reltuples = -1 and plans it blind until autovacuum comes by
    (https://www.postgresql.org/docs/current/catalog-pg-class.html)."""
    with fresh_schema() as url:
        engine = create_engine(url)
        try:
            upgrade(engine)
            with engine.connect() as conn:
                blind = conn.scalars(text(
                    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.reltuples < 0")).all()
        finally:
            engine.dispose()
    assert blind == []
