"""Schema migrations with Alembic, run by `readybot db upgrade` and on every start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config(engine)
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            # Replicas starting together must not migrate concurrently.
            conn.exec_driver_sql("SELECT pg_advisory_lock(727274)")
        cfg.attributes["connection"] = conn
        try:
            command.upgrade(cfg, revision)
        finally:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_unlock(727274)")
            conn.commit()


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a migration against a database that is at head (developer tool)."""
    cfg = alembic_config(engine)
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True)


def current_tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())
