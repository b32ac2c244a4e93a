"""outbox queue: an index of unsent rows by channel in queue order, for the claim's round-robin

A claim walks each channel's queue through it (bot/notify/turns.py) instead of ranking every due
row, so its cost no longer grows with the backlog (issue 13).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UNSENT = sa.text("status NOT IN ('sent', 'failed')")


def upgrade() -> None:
    op.create_index(op.f("ix_outbox_queue"), "outbox", ["team_id", "channel_id", "id"], unique=False,
                    postgresql_where=UNSENT, sqlite_where=UNSENT)


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_queue"), table_name="outbox")
