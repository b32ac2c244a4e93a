"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.store.migrate import current_tables, upgrade
from bot.store.models import Base


def test_migrations_match_the_models(store):
    upgrade(store.engine)  # a second upgrade is a no-op
    assert set(Base.metadata.tables) <= current_tables(store.engine)
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
