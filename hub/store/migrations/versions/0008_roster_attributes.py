"""Rosters as campuses export them: the roster's other columns kept on each member
(members.attributes, {name: value}) and the mapping of the last import remembered for the next
(roster_mappings).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add members.attributes (empty for everyone) and create roster_mappings."""
    # a plain ADD COLUMN: batch mode would copy the members table, which SQLite refuses while
    # enrollments and the audit log refer to its rows (an existing database could not upgrade)
    op.add_column(
        "members",
        sa.Column("attributes", sa.JSON, nullable=False, server_default=sa.text("'{}'")),
    )
    op.create_table(
        "roster_mappings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("mapping", sa.JSON, nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    """Drop roster_mappings and members.attributes."""
    op.drop_table("roster_mappings")
    # a plain DROP COLUMN (SQLite 3.35+ and PostgreSQL), for the same reason
    op.execute("ALTER TABLE members DROP COLUMN attributes")
