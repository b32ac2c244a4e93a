"""wide ids: 64-bit steps, ids never reused on SQLite, "not found" confirmation on runs

Three changes of issue 12 that touch the same tables, made in one rebuild of each:

- Steps are 64-bit in MLflow (https://mlflow.org/docs/latest/rest-api.html#metric); PostgreSQL's
  INTEGER ends at 2^31 - 1, so every step column becomes BIGINT (item 3).
- SQLite hands the largest rowid out again after a delete unless the table is AUTOINCREMENT
  (https://www.sqlite.org/autoinc.html), and ids appear in outbox keys and button values, so
  every table with an `id` is rebuilt AUTOINCREMENT (item 4). SQLite cannot alter that in
  place: Alembic's batch mode copies the table (recreate="always"). PostgreSQL's sequences never
  go back, so there only the step types change.
- runs.missing_since / runs.missing_polls: a run absent from a tracker's answer is announced
  missing only once the absence repeats (item 1, bot/core/runs.py confirm_missing).

bot.store.migrate.upgrade runs SQLite migrations with foreign keys off, as SQLite's procedure for
rebuilding a table asks (https://www.sqlite.org/lang_altertable.html#otheralter): with them on,
dropping the old copy of a parent table would cascade-delete its children.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# table -> its step columns (nullable or not, as the models say)
STEPS = {
    "runs": {"step": True, "total_steps": True, "total_steps_override": True},
    "watches": {"total_steps": True},
    "target_progress": {"last_step": True},
    "alerts": {"step": False},
    "run_points": {"step": False},
}
WITH_IDS = ("connections", "runs", "watches", "targets", "alerts", "reviews", "review_events", "schedules",
            "outbox", "standup_rounds", "standup_answers", "digest_posts")


def upgrade() -> None:
    _change(wide=True)
    if op.get_bind().dialect.name != "sqlite":
        op.add_column("runs", sa.Column("missing_since", sa.DateTime(), nullable=True))
        op.add_column("runs", sa.Column("missing_polls", sa.Integer(), nullable=False, server_default="0"))
        return
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("missing_since", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("missing_polls", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("missing_polls")
        batch.drop_column("missing_since")
    _change(wide=False)


def _change(wide: bool) -> None:
    new, old = (sa.BigInteger(), sa.Integer()) if wide else (sa.Integer(), sa.BigInteger())
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in dict.fromkeys((*WITH_IDS, *STEPS)):
        steps = STEPS.get(table, {})
        if not sqlite:
            for column, nullable in steps.items():
                op.alter_column(table, column, type_=new, existing_type=old, existing_nullable=nullable)
            continue
        kwargs = {"recreate": "always", "table_kwargs": {"sqlite_autoincrement": wide}} if table in WITH_IDS else {}
        with op.batch_alter_table(table, **kwargs) as batch:
            for column, nullable in steps.items():
                batch.alter_column(column, type_=new, existing_type=old, existing_nullable=nullable)
