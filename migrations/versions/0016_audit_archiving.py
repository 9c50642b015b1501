"""audit events may be archived once signed

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06

``audit_events`` stays append-only for UPDATE and TRUNCATE. A DELETE is now allowed for one kind of row only:
an event at or before a signed head of its organisation (``audit_checkpoints``) that is not the chain's newest
event. That is what ``supervise audit archive`` deletes once it has written the events out: the chain that
remains verifies from the signed head (``supervise audit verify``), and its newest event stays, so the next
append continues the numbering. Any other DELETE is refused, as before, and so is the whole statement.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = "audit_events is append-only"
ARCHIVED_ONLY = "audit_events is append-only: only events at or before a signed head, not the newest, may be archived"
_UNSIGNED = """NOT EXISTS (SELECT 1 FROM audit_checkpoints c WHERE c.org_id = OLD.org_id AND c.seq >= OLD.seq)
    OR OLD.seq >= (SELECT max(e.seq) FROM audit_events e WHERE e.org_id = OLD.org_id)"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
        )
        op.execute(
            f"""
            CREATE FUNCTION audit_events_archived_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF {_UNSIGNED} THEN
                    RAISE EXCEPTION '{ARCHIVED_ONLY}' USING ERRCODE = 'insufficient_privilege';
                END IF;
                RETURN OLD;
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER audit_events_archived_only BEFORE DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_archived_only()"
        )
    else:
        op.execute("DROP TRIGGER audit_events_no_delete")
        op.execute(
            f"CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events WHEN {_UNSIGNED} "
            f"BEGIN SELECT RAISE(ABORT, '{ARCHIVED_ONLY}'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_archived_only ON audit_events")
        op.execute("DROP FUNCTION audit_events_archived_only()")
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
        )
    else:
        op.execute("DROP TRIGGER audit_events_no_delete")
        op.execute(
            "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )
