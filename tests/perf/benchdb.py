"""The database a benchmark runs on: a fresh SQLite file, or a schema of its own on the test
PostgreSQL (dropped and made again, so each run starts empty and benchmarks never share one)."""

from __future__ import annotations

import tempfile

from sqlalchemy import create_engine, text

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def scratch_database(kind: str, schema: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    admin = create_engine(PG)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    return f"{PG}?options=-csearch_path%3D{schema}"
