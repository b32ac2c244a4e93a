"""connection polls: per-connection poll claims shared by every replica

Replaces the single poll lease: each connection has its own due time and claim, so replicas
poll different connections at once and a slow tracker holds up only its own.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connection_polls",
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("next_poll_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("polled_at", sa.DateTime(), nullable=True),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"],
                                name=op.f("fk_connection_polls_connection_id_connections"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("connection_id", name=op.f("pk_connection_polls")),
    )
    op.create_index(op.f("ix_connection_polls_due"), "connection_polls", ["next_poll_at"], unique=False)
    # The poll lease is gone with this revision: a row left behind would only confuse.
    op.execute(sa.text("DELETE FROM leases WHERE name = 'poll'"))


def downgrade() -> None:
    op.drop_index(op.f("ix_connection_polls_due"), table_name="connection_polls")
    op.drop_table("connection_polls")
