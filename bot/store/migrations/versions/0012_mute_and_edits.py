"""mute and edits: who muted one run's alerts of a target and when (target_progress), and who last
edited a decision record and when (decisions)

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("target_progress", schema=None) as batch_op:
        batch_op.add_column(sa.Column("muted_by", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("muted_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("edited_by", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("edited_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_column("edited_at")
        batch_op.drop_column("edited_by")
    with op.batch_alter_table("target_progress", schema=None) as batch_op:
        batch_op.drop_column("muted_at")
        batch_op.drop_column("muted_by")
