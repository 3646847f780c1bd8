"""The exchange and the gradebook of record: releases, submissions, feedback, extensions, grades,
results; per-assessment late policy and instructor due-date overrides.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the exchange and gradebook tables."""
    with op.batch_alter_table("assessments") as batch:
        batch.add_column(sa.Column("due_override_at", sa.DateTime))
        batch.add_column(sa.Column("late_policy", sa.JSON, nullable=False, server_default="{}"))
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("assessment_id", sa.Integer, sa.ForeignKey("assessments.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("notebooks", sa.JSON, nullable=False),
        sa.Column("released_at", sa.DateTime, nullable=False),
        sa.Column("released_by", sa.String(128), nullable=False),
        sa.UniqueConstraint("assessment_id", "version"),
    )
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("assessment_id", sa.Integer, sa.ForeignKey("assessments.id"), nullable=False),
        sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id"), nullable=False),
        sa.Column("release_id", sa.Integer, sa.ForeignKey("releases.id")),
        sa.Column("submitted_at", sa.DateTime, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("files", sa.JSON, nullable=False),
    )
    op.create_index(
        "ix_submissions_member_assessment",
        "submissions",
        ["member_id", "assessment_id", "submitted_at"],
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "submission_id",
            sa.Integer,
            sa.ForeignKey("submissions.id"),
            nullable=False,
            unique=True,
        ),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("released_at", sa.DateTime, nullable=False),
        sa.Column("released_by", sa.String(128), nullable=False),
    )
    op.create_table(
        "extensions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("assessment_id", sa.Integer, sa.ForeignKey("assessments.id"), nullable=False),
        sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id"), nullable=False),
        sa.Column("due_at", sa.DateTime, nullable=False),
        sa.Column("granted_by", sa.String(128), nullable=False),
        sa.Column("granted_at", sa.DateTime, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.UniqueConstraint("assessment_id", "member_id"),
    )
    op.create_table(
        "grades",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False),
        sa.Column("notebook", sa.String(200), nullable=False),
        sa.Column("cell", sa.String(200), nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("max_score", sa.Float, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("graded_at", sa.DateTime, nullable=False),
        sa.Column("graded_by", sa.String(128), nullable=False),
        sa.UniqueConstraint("submission_id", "notebook", "cell"),
    )
    op.create_table(
        "results",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "submission_id",
            sa.Integer,
            sa.ForeignKey("submissions.id"),
            nullable=False,
            unique=True,
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("raw_score", sa.Float, nullable=False),
        sa.Column("max_score", sa.Float, nullable=False),
        sa.Column("late_seconds", sa.Float, nullable=False),
        sa.Column("penalty", sa.Float, nullable=False),
        sa.Column("final_score", sa.Float, nullable=False),
        sa.Column("computed_at", sa.DateTime, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    """Drop them."""
    for table in ("results", "grades", "extensions", "feedback", "submissions", "releases"):
        op.drop_table(table)
    with op.batch_alter_table("assessments") as batch:
        batch.drop_column("late_policy")
        batch.drop_column("due_override_at")
