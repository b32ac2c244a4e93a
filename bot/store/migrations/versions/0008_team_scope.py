"""team scope: what was unique per channel is unique per (team, channel)

A channel id can exist in two workspaces (Slack Connect shares one channel between them, and
ids are not promised unique across workspaces), so a schedule, a standup round, a digest, a
watch and the calendar feed token belong to the pair (team_id, channel_id). Every change only
relaxes a constraint: rows stored under the old ones already satisfy the new ones.

Revision ID: 0008
Revises: 0006
"""

from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

# table -> (constraint name, columns before, columns after)
UNIQUES = {
    "schedules": (("uq_schedules_channel_id", ["channel_id", "kind"]),
                  ("uq_schedules_team_id", ["team_id", "channel_id", "kind"])),
    "standup_rounds": (("uq_standup_rounds_channel_id", ["channel_id", "period"]),
                       ("uq_standup_rounds_team_id", ["team_id", "channel_id", "period"])),
    "digest_posts": (("uq_digest_posts_channel_id", ["channel_id", "period"]),
                     ("uq_digest_posts_team_id", ["team_id", "channel_id", "period"])),
    "watches": (("uq_watches_channel_id", ["channel_id", "connection_id", "ref", "is_experiment"]),
                ("uq_watches_team_id", ["team_id", "channel_id", "connection_id", "ref", "is_experiment"])),
}


# SQLite rebuilds a table to change its constraints; the copy must keep AUTOINCREMENT (0005), so
# an id removed once is never handed out again.
KEEP_IDS = {"table_kwargs": {"sqlite_autoincrement": True}}


def upgrade() -> None:
    for table, ((old, _), (new, columns)) in UNIQUES.items():
        with op.batch_alter_table(table, **KEEP_IDS) as batch_op:
            batch_op.drop_constraint(old, type_="unique")
            batch_op.create_unique_constraint(new, columns)
    with op.batch_alter_table("channel_calendars") as batch_op:
        batch_op.drop_constraint("pk_channel_calendars", type_="primary")
        batch_op.create_primary_key("pk_channel_calendars", ["team_id", "channel_id"])


def downgrade() -> None:
    # Fails, rightly, once two teams hold the same channel id: the old schema cannot keep both.
    with op.batch_alter_table("channel_calendars") as batch_op:
        batch_op.drop_constraint("pk_channel_calendars", type_="primary")
        batch_op.create_primary_key("pk_channel_calendars", ["channel_id"])
    for table, ((old, old_columns), (new, _)) in UNIQUES.items():
        with op.batch_alter_table(table, **KEEP_IDS) as batch_op:
            batch_op.drop_constraint(new, type_="unique")
            batch_op.create_unique_constraint(old, old_columns)
