"""outbound: one queue for everything sent (priorities, in-doubt claims),
announcements, linked messengers (one family across Telegram and VK)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 12:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "announcements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("city", sa.String(length=32), nullable=False),
        sa.Column("categories", JSON, nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("uncertain", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["staff_users.id"],
            name="fk_announcements_created_by",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "worker_leases",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="2"))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("announcement_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_outbox_announcement_id"), ["announcement_id"], unique=False
        )
        batch_op.create_index(
            "ix_outbox_waiting",
            ["priority", "id"],
            unique=False,
            sqlite_where=sa.text("failed_at IS NULL"),
            postgresql_where=sa.text("failed_at IS NULL"),
        )
        batch_op.create_foreign_key(
            "fk_outbox_announcement_id",
            "announcements",
            ["announcement_id"],
            ["id"],
            ondelete="CASCADE",
        )
    with op.batch_alter_table("families", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("announcements_ok", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("link_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("link_expires", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint("uq_families_link_hash", ["link_hash"])
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "last_seen_at",
                sa.DateTime(timezone=True),
                nullable=False,
                server_default=sa.func.current_timestamp(),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.drop_column("last_seen_at")
    with op.batch_alter_table("families", schema=None) as batch_op:
        batch_op.drop_constraint("uq_families_link_hash", type_="unique")
        batch_op.drop_column("link_expires")
        batch_op.drop_column("link_hash")
        batch_op.drop_column("announcements_ok")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint("fk_outbox_announcement_id", type_="foreignkey")
        batch_op.drop_index("ix_outbox_waiting")
        batch_op.drop_index(batch_op.f("ix_outbox_announcement_id"))
        batch_op.drop_column("announcement_id")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("priority")
    op.drop_table("announcements")
    op.drop_table("worker_leases")
