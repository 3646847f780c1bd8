"""Stage selection: decisions (preview -> confirmed -> applied -> rolled back) with their
overrides, participation inputs (attendance, ...) and project teams.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create selections, selection_overrides, participation_inputs and teams."""
    op.create_table(
        "selections",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("cohort_id", sa.Integer, sa.ForeignKey("cohorts.id"), nullable=False),
        sa.Column("stage", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("policy", sa.JSON, nullable=False),
        sa.Column("inputs_hash", sa.String(64), nullable=False),
        sa.Column("rows", sa.JSON, nullable=False),
        sa.Column("pools", sa.JSON, nullable=False),
        sa.Column("warnings", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("confirmed_by", sa.String(128)),
        sa.Column("confirmed_at", sa.DateTime),
        sa.Column("applied_by", sa.String(128)),
        sa.Column("applied_at", sa.DateTime),
        sa.Column("rolled_back_by", sa.String(128)),
        sa.Column("rolled_back_at", sa.DateTime),
        sa.Column("rollback_reason", sa.Text),
        sa.Column("moved", sa.JSON, nullable=False),
    )
    op.create_index("ix_selections_cohort_stage", "selections", ["cohort_id", "stage"])
    op.create_table(
        "selection_overrides",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("selection_id", sa.Integer, sa.ForeignKey("selections.id"), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("by", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.CheckConstraint("action IN ('advance', 'hold')", name="ck_override_action"),
        sa.CheckConstraint("length(trim(reason)) > 0", name="ck_override_reason"),
    )
    op.create_index("ix_selection_overrides_selection", "selection_overrides", ["selection_id"])
    op.create_table(
        "participation_inputs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("source", sa.String(256), nullable=False),
        sa.Column("imported_by", sa.String(128), nullable=False),
        sa.Column("imported_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("member_id", "name"),
    )
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("cohort_id", sa.Integer, sa.ForeignKey("cohorts.id"), nullable=False),
        sa.Column("stage", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("members", sa.JSON, nullable=False),
        sa.Column("explanation", sa.Text, nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("cohort_id", "stage", "number"),
    )


def downgrade() -> None:
    """Drop the selection tables."""
    op.drop_table("teams")
    op.drop_table("participation_inputs")
    op.drop_table("selection_overrides")
    op.drop_table("selections")
