"""standup rounds, answers and digest posts

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "standup_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=40), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("message_key", sa.String(length=255), nullable=False),
        sa.Column("opens_at", sa.DateTime(), nullable=False),
        sa.Column("closes_at", sa.DateTime(), nullable=False),
        sa.Column("summary_key", sa.String(length=255), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_standup_rounds")),
        sa.UniqueConstraint("channel_id", "period", name=op.f("uq_standup_rounds_channel_id")),
    )
    op.create_table(
        "standup_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.Column("prompt_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("prompted_at", sa.DateTime(), nullable=True),
        sa.Column("reminded_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("owner_keys", sa.JSON(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["round_id"], ["standup_rounds.id"],
            name=op.f("fk_standup_answers_round_id_standup_rounds"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_standup_answers")),
        sa.UniqueConstraint("round_id", "user_id", name=op.f("uq_standup_answers_round_id")),
    )
    with op.batch_alter_table("standup_answers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_standup_answers_round_id"), ["round_id"], unique=False)
        batch_op.create_index("ix_standup_answers_user", ["user_id"], unique=False)
    op.create_table(
        "digest_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=40), nullable=False),
        sa.Column("since_at", sa.DateTime(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("message_key", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_posts")),
        sa.UniqueConstraint("channel_id", "period", name=op.f("uq_digest_posts_channel_id")),
    )
    with op.batch_alter_table("digest_posts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_digest_posts_channel_id"), ["channel_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("digest_posts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_digest_posts_channel_id"))
    op.drop_table("digest_posts")
    with op.batch_alter_table("standup_answers", schema=None) as batch_op:
        batch_op.drop_index("ix_standup_answers_user")
        batch_op.drop_index(batch_op.f("ix_standup_answers_round_id"))
    op.drop_table("standup_answers")
    op.drop_table("standup_rounds")
