"""target progress remembers the time of the newest point at its last step

MLflow logs a metric without an explicit step at step 0 every time; such values differ only by
timestamp, so the evaluator orders points by (step, time).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("target_progress", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("target_progress", schema=None) as batch_op:
        batch_op.drop_column("last_at")
