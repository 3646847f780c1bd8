"""Scorecards: each trainee's latest submission of every assessment with its result, packed for
the bulk reads of stage selection (see sadari.hub.store.scorecards), filled from the history.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create scorecards and write one for every trainee with a submission."""
    op.create_table(
        "scorecards",
        sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id"), primary_key=True),
        sa.Column("cells", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    # the store's own rebuild (the cell format is defined there, once): a database with
    # submissions must not reach this revision with empty scorecards
    from datetime import UTC, datetime

    from sqlalchemy.orm import Session

    from sadari.hub.store import scorecards

    with Session(bind=op.get_bind()) as s:
        scorecards.rebuild(s, datetime.now(UTC))
        s.flush()


def downgrade() -> None:
    """Drop scorecards."""
    op.drop_table("scorecards")
