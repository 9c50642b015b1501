"""keys of deactivated members revoked

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06

Deactivating a member now revokes every key they hold, so reactivating them revives none (issue 15). Keys
that deactivated members still hold from before are revoked here, at the time of the upgrade. Data only: the
downgrade leaves them revoked (a key once revoked never works again).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP WHERE revoked_at IS NULL "
        "AND member_id IN (SELECT id FROM members WHERE NOT active)"
    )


def downgrade() -> None:
    pass
