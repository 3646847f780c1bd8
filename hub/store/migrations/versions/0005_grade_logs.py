"""Execution logs on grades: the test cell's output and error as the grader saw them, truncated.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add grades.log."""
    with op.batch_alter_table("grades") as batch:
        batch.add_column(sa.Column("log", sa.Text, nullable=True))


def downgrade() -> None:
    """Drop grades.log."""
    with op.batch_alter_table("grades") as batch:
        batch.drop_column("log")
