"""identity providers

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07

People sign in with their clinic's OpenID Connect provider: ``identity_providers`` are the issuers an
organisation trusts (an issuer and audience registered once in the whole deployment, which is how a token finds
its organisation), and ``member_identities`` bind a provider's subjects to members. ``audit_events`` gains the
issuer and subject of the access token an actor signed in with (a plain ``ADD COLUMN``: SQLite would rebuild the
table without its append-only triggers in a batch copy); the hash covers them only when there is an issuer, so
every chain written before verifies unchanged. ``idempotency_records.api_key_id`` may be null: a request made
with an access token has no key.

Downgrading is refused once an audit event records a token (its hash needs those fields); remembered responses
of token requests are forgotten.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_providers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("issuer", sa.String(length=512), nullable=False),
        sa.Column("audience", sa.String(length=512), nullable=False),
        sa.Column("jwks_uri", sa.String(length=1024), nullable=True),
        sa.Column("member_claim", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("member_claim IN ('sub', 'email')", name=op.f("ck_identity_providers_member_claim")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_identity_providers_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_providers")),
        sa.UniqueConstraint("issuer", "audience", name=op.f("uq_identity_providers_issuer_audience")),
        sa.UniqueConstraint("org_id", "id", name=op.f("uq_identity_providers_org_id_id")),
    )
    op.create_index(
        "ix_identity_providers_org_created", "identity_providers", ["org_id", "created_at", "id"], unique=False
    )
    op.create_table(
        "member_identities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "member_id"],
            ["members.org_id", "members.id"],
            name=op.f("fk_member_identities_org_id_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "provider_id"],
            ["identity_providers.org_id", "identity_providers.id"],
            name=op.f("fk_member_identities_org_id_provider_id_identity_providers"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_member_identities_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_identities")),
        sa.UniqueConstraint(
            "org_id", "provider_id", "member_id", name=op.f("uq_member_identities_org_id_provider_id_member_id")
        ),
        sa.UniqueConstraint(
            "org_id", "provider_id", "subject", name=op.f("uq_member_identities_org_id_provider_id_subject")
        ),
    )
    op.add_column("audit_events", sa.Column("token_issuer", sa.String(length=512), nullable=True))
    op.add_column("audit_events", sa.Column("token_subject", sa.String(length=255), nullable=True))
    with op.batch_alter_table("idempotency_records") as batch:
        batch.alter_column("api_key_id", existing_type=sa.Uuid(), nullable=True)


def downgrade() -> None:
    signed_in = (
        op.get_bind().execute(sa.text("SELECT count(*) FROM audit_events WHERE token_issuer IS NOT NULL")).scalar_one()
    )
    if signed_in:
        raise RuntimeError(
            f"{signed_in} audit events record an access token's issuer and subject: their hashes need them, so "
            "this revision cannot be downgraded without breaking the chains"
        )
    op.execute("DELETE FROM idempotency_records WHERE api_key_id IS NULL")
    with op.batch_alter_table("idempotency_records") as batch:
        batch.alter_column("api_key_id", existing_type=sa.Uuid(), nullable=False)
    op.execute("ALTER TABLE audit_events DROP COLUMN token_subject")
    op.execute("ALTER TABLE audit_events DROP COLUMN token_issuer")
    op.drop_table("member_identities")
    op.drop_index("ix_identity_providers_org_created", table_name="identity_providers")
    op.drop_table("identity_providers")
