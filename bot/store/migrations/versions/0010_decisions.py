"""decisions: what a results review decided (with a frozen copy of its runs), and the
leaderboard leader each channel's last digest showed per metric

Only adds tables, so a replica on the previous release keeps working beside it.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=True),
        sa.Column("choice", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("runs", sa.JSON(), nullable=False),
        sa.Column("decided_by", sa.String(length=32), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("message_key", sa.String(length=255), nullable=True),
        sa.Column("permalink", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.id"], name=op.f("fk_decisions_review_id_reviews"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_decisions_channel", "decisions", ["team_id", "channel_id", "decided_at"])
    op.create_table(
        "decision_runs",
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["decision_id"], ["decisions.id"],
                                name=op.f("fk_decision_runs_decision_id_decisions"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_decision_runs_run_id_runs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("decision_id", "run_id", name=op.f("pk_decision_runs")),
    )
    op.create_index(op.f("ix_decision_runs_run_id"), "decision_runs", ["run_id"])
    op.create_table(
        "leaderboard_leaders",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("metric", sa.String(length=250), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("run_name", sa.String(length=500), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_leaderboard_leaders_run_id_runs"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("team_id", "channel_id", "metric", name=op.f("pk_leaderboard_leaders")),
    )


def downgrade() -> None:
    op.drop_table("leaderboard_leaders")
    op.drop_index(op.f("ix_decision_runs_run_id"), table_name="decision_runs")
    op.drop_table("decision_runs")
    op.drop_index("ix_decisions_channel", table_name="decisions")
    op.drop_table("decisions")
