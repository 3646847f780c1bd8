"""Manual grading in the browser: each grade says who set its score (origin), keeps the grader's
comment and the reason an autograded cell's points were changed, and carries a version so that
two graders never overwrite each other unknowingly.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = ("origin", "comment", "reason", "version")


def upgrade() -> None:
    """Add grades.origin ('grader' for the grades there are), comment, reason and version (1)."""
    # plain ADD COLUMNs: batch mode would copy the grades table (see 0008)
    op.add_column(
        "grades",
        sa.Column("origin", sa.String(16), nullable=False, server_default=sa.text("'grader'")),
    )
    op.add_column("grades", sa.Column("comment", sa.Text, nullable=True))
    op.add_column("grades", sa.Column("reason", sa.Text, nullable=True))
    op.add_column(
        "grades", sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1"))
    )


def downgrade() -> None:
    """Drop the four columns (comments and reasons go; the audit log keeps what was done)."""
    for column in reversed(COLUMNS):
        op.execute(f"ALTER TABLE grades DROP COLUMN {column}")
