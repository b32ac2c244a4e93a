"""Schema migrations with Alembic, run by `readybot db upgrade` and on every start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config(engine)
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        if postgres:
            # Replicas starting together must not migrate concurrently.
            conn.exec_driver_sql("SELECT pg_advisory_lock(727274)")
        else:
            _sqlite_foreign_keys(conn, on=False)
        cfg.attributes["connection"] = conn
        try:
            before = MigrationContext.configure(conn).get_current_revision()
            command.upgrade(cfg, revision)
            if MigrationContext.configure(conn).get_current_revision() != before:
                # Fresh statistics for the planner: new tables and indexes have none until
                # autovacuum gets to them, and a plan made without them may scan every run.
                conn.exec_driver_sql("ANALYZE")
            # Commit before unlocking (a session lock outlives the commit): the replica that
            # takes the lock next must see the migrated schema, not migrate an empty one again.
            conn.commit()
        finally:
            conn.rollback()  # nothing left after the commit; ends a failed migration so the unlock runs
            if postgres:
                conn.exec_driver_sql("SELECT pg_advisory_unlock(727274)")
                conn.commit()
            else:
                _sqlite_foreign_keys(conn, on=True)


def _sqlite_foreign_keys(conn: Connection, on: bool) -> None:
    """Tables are rebuilt by copying (batch mode); SQLite asks for foreign keys off meanwhile, or
    dropping the old copy of a parent table deletes its children by cascade
    (https://www.sqlite.org/lang_altertable.html#otheralter). The pragma does nothing inside a
    transaction, so it goes to the driver connection, outside SQLAlchemy's autobegin."""
    conn.connection.driver_connection.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a migration against a database that is at head (developer tool)."""
    cfg = alembic_config(engine)
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True)


def current_tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())
