"""people: which tracker usernames are which Slack users (`/ready me`), and whether each person
wants to be mentioned by name in run alerts

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tracker_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("tracker", sa.String(length=100), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("username_key", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracker_identities")),
        sa.UniqueConstraint("team_id", "tracker", "username_key", name=op.f("uq_tracker_identities_team_id")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_tracker_identities_user", "tracker_identities", ["team_id", "user_id"])
    op.create_table(
        "person_settings",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("mentions", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "user_id", name=op.f("pk_person_settings")),
    )


def downgrade() -> None:
    op.drop_table("person_settings")
    op.drop_index("ix_tracker_identities_user", table_name="tracker_identities")
    op.drop_table("tracker_identities")
