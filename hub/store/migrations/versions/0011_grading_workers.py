"""Grading workers' liveness and each job's outcome: every worker (the service's own, `sadari
grading work`) keeps a row in grading_workers fresh while it runs, so that the CLI can tell
whether anyone will grade what it queues; grading_jobs.outcome keeps the grader's status of a
finished job (graded, timed out, crashed, ...) for whoever follows the job's progress.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create grading_workers; add grading_jobs.outcome (empty for the jobs there are)."""
    op.create_table(
        "grading_workers",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("who", sa.String(128), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("seen_at", sa.DateTime, nullable=False),
    )
    # a plain ADD COLUMN: batch mode would copy the table (see 0008)
    op.add_column("grading_jobs", sa.Column("outcome", sa.String(16), nullable=True))


def downgrade() -> None:
    """Drop grading_jobs.outcome and grading_workers."""
    op.execute("ALTER TABLE grading_jobs DROP COLUMN outcome")
    op.drop_table("grading_workers")
