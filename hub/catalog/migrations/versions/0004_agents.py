"""A2A agent registry: registered cards with their pins, and task ownership.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = sa.String().with_variant(sa.String(collation="C"), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", NAME, primary_key=True),
        sa.Column("card", sa.JSON(), nullable=False),
        sa.Column("extended_card", sa.JSON(), nullable=True),
        sa.Column("card_url", sa.Text(), nullable=True),
        sa.Column("card_hash", sa.String(80), nullable=False),
        sa.Column("approved_hash", sa.String(80), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("signature", sa.String(16), nullable=False),
        sa.Column("signature_kid", sa.String(200), nullable=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("registered_by", sa.String(200), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("fetched_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_agents_updated_at", "agents", ["updated_at"])
    op.create_table(
        "agent_tasks",
        sa.Column("agent_id", NAME, sa.ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("task_id", sa.String(200), primary_key=True),
        sa.Column("principal_id", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_agent_tasks_principal_id", "agent_tasks", ["principal_id"])


def downgrade() -> None:
    op.drop_table("agent_tasks")
    op.drop_table("agents")
