"""references follow amendments

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07

A reference review now follows its review's amendment (``supervise.reviews.service.submit``). References
marked before this revision may still point at a revision that was amended since; calibration then found no
scores for it and left its recording out. This moves each such reference to the revision that stands, one
amendment at a time (a review amended twice takes two steps). A downgrade leaves them where they are: the
older code reads a reference on the current revision as well as any other.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FOLLOW = sa.text(
    """
    UPDATE reference_reviews SET review_id = (
        SELECT reviews.superseded_by_id FROM reviews
        WHERE reviews.org_id = reference_reviews.org_id AND reviews.id = reference_reviews.review_id
    )
    WHERE EXISTS (
        SELECT 1 FROM reviews
        WHERE reviews.org_id = reference_reviews.org_id AND reviews.id = reference_reviews.review_id
          AND reviews.superseded_by_id IS NOT NULL
    )
    """
)


def upgrade() -> None:
    connection = op.get_bind()
    while connection.execute(_FOLLOW).rowcount:
        pass


def downgrade() -> None:
    pass
