"""Gateway: pinned tool definitions, access requests, per-call approvals, hash-chained audit log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = sa.String().with_variant(sa.String(collation="C"), "postgresql")
TS = sa.DateTime(timezone=True)
GENESIS = "0" * 64


def upgrade() -> None:
    with op.batch_alter_table("tools") as batch:
        batch.add_column(sa.Column("approved_hash", sa.String(80), nullable=True))
        batch.add_column(sa.Column("flags", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("policy", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("state_reason", sa.Text(), nullable=True))
    # Tools imported before pinning existed were served as approved: pin what they are now.
    op.execute("UPDATE tools SET approved_hash = definition_hash WHERE state = 'approved'")
    op.create_index("ix_tools_updated_at", "tools", ["updated_at"])
    op.create_index("ix_upstreams_updated_at", "upstreams", ["updated_at"])
    op.create_table(
        "access_requests",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("principal_id", NAME, sa.ForeignKey("principals.id", ondelete="CASCADE"), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_access_requests_principal_id", "access_requests", ["principal_id"])
    op.create_index("ix_access_requests_state", "access_requests", ["state"])
    op.create_table(
        "call_approvals",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("principal_id", sa.String(200), nullable=False),
        sa.Column("tool", NAME, nullable=False),
        sa.Column("definition_hash", sa.String(80), nullable=False),
        sa.Column("argument_digest", sa.String(80), nullable=False),
        sa.Column("arguments_preview", sa.Text(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )
    op.create_index("ix_call_approvals_principal_id", "call_approvals", ["principal_id"])
    op.create_index("ix_call_approvals_state", "call_approvals", ["state"])
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("principal", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(300), nullable=True),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("definition_hash", sa.String(80), nullable=True),
        sa.Column("argument_digest", sa.String(80), nullable=True),
        sa.Column("trace_id", sa.String(64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    for column in ("at", "principal", "action", "target"):
        op.create_index(f"ix_audit_log_{column}", "audit_log", [column])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])


def downgrade() -> None:
    for table in ("audit_head", "audit_log", "call_approvals", "access_requests"):
        op.drop_table(table)
    op.drop_index("ix_upstreams_updated_at", "upstreams")
    op.drop_index("ix_tools_updated_at", "tools")
    with op.batch_alter_table("tools") as batch:
        for column in ("state_reason", "policy", "flags", "approved_hash"):
            batch.drop_column(column)
