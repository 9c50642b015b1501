"""api keys record who made them

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

``api_keys.created_by``: the member who made the key (null: the command line, and every key made before this
revision, whose maker was not recorded). An admin making a key for another admin must now say so
(``on_behalf``), and the audit log names the maker beside every event made with such a key.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("created_by", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_api_keys_org_id_created_by_members"), "members", ["org_id", "created_by"], ["org_id", "id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint(op.f("fk_api_keys_org_id_created_by_members"), type_="foreignkey")
        batch.drop_column("created_by")
