"""The audit log's verified checkpoint: the last entry whose hash chain was checked from the
first entry, so a page view re-hashes only the entries appended since (store/audit.py).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create audit_checkpoint (empty: the first check starts from the first entry)."""
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("audit_log.id"), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("verified_at", sa.DateTime, nullable=False),
        sa.Column("full_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    """Drop audit_checkpoint."""
    op.drop_table("audit_checkpoint")
