"""The grading queue: one job per (submission, release), leased to workers, retried a bounded
number of times.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create grading_jobs."""
    op.create_table(
        "grading_jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False),
        sa.Column("release_id", sa.Integer, sa.ForeignKey("releases.id")),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("lease_owner", sa.String(128)),
        sa.Column("lease_until", sa.DateTime),
        sa.Column("enqueued_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("last_error", sa.Text),
        sa.UniqueConstraint("submission_id", "release_id"),
    )
    op.create_index("ix_grading_jobs_status", "grading_jobs", ["status", "lease_until"])


def downgrade() -> None:
    """Drop grading_jobs."""
    op.drop_table("grading_jobs")
