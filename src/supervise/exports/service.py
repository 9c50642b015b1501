"""The results export: who may export whose results, and the rows, streamed from one snapshot in pages.

The export holds what the aggregates count, row by row: the current revision of every submitted review
(an amendment replaces the one it amends, which is never counted twice), client ratings among them (role
``client``), of sessions whose consent holds, each as one row per measure (every session-level item answered,
and every score: subscales and the total), for sessions on the days asked, in the organisation's time zone.
Whose: the caller's own, their supervisees' and, for admins, everyone's; a therapist of whose sessions the
caller still owes a first review is left out (blind review), as the series and team views hide them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from supervise.aggregates import shared
from supervise.aggregates.schemas import RoleFilter
from supervise.audit import service as audit
from supervise.auth.principal import Principal
from supervise.clock import utcnow
from supervise.db import Database, Tx
from supervise.exports import repository
from supervise.exports.cells import Cell, encode_rows
from supervise.exports.repository import ResultRow
from supervise.members import service as members
from supervise.reviews import service as reviews
from supervise.scores import service as scores

__all__ = ["COLUMNS", "PAGE_ROWS", "ResultsQuery", "filename", "results_csv"]

COLUMNS = (
    "review_id",
    "review_status",
    "revision",
    "rubric_key",
    "rubric_version",
    "role",
    "therapist_id",
    "case_id",
    "case_ref",
    "recording_id",
    "recording_external_id",
    "session_number",
    "session_date",
    "submitted_at",
    "measure_kind",
    "measure",
    "value",
)
"""The header line, in order."""

PAGE_ROWS = 2_000
"""Rows read per statement: memory holds one page, however long the export."""


@dataclass(frozen=True, slots=True)
class ResultsQuery:
    date_from: dt.date
    date_to: dt.date
    therapist_id: uuid.UUID | None = None
    rubric_key: str | None = None
    rubric_version: str | None = None
    role: RoleFilter | None = None


def filename(query: ResultsQuery) -> str:
    return f"results-{query.date_from.isoformat()}-to-{query.date_to.isoformat()}.csv"


async def results_csv(tx: Tx, db: Database, principal: Principal, query: ResultsQuery) -> AsyncIterator[bytes]:
    """Check the question in the request's transaction (404 for a therapist the caller may not see, 409 while
    they owe a first review of one of the therapist's sessions, 422 for an empty range), apply the consent
    expiries passed (as the aggregates do before they read), note the audited read, and answer the CSV's
    chunks: read after the request's transaction commits, from one snapshot."""
    shared.check_range(query.date_from, query.date_to)
    if query.therapist_id is not None:
        await shared.visible_therapist(tx, principal, query.therapist_id)
        await shared.not_blinded(tx, principal, query.therapist_id)
        therapists: list[uuid.UUID] | None = [query.therapist_id]
    elif principal.is_admin:
        therapists = None
    else:
        therapists = [principal.member_id, *await members.supervisees(tx, principal.org_id, principal.member_id)]
    owed = sorted(await reviews.owed_therapists(tx, principal))
    await scores.sweep(tx, principal.org_id, utcnow())
    audit.record_read(tx, principal, "export.results", "member", query.therapist_id)
    return _chunks(db, principal.org_id, query, therapists, owed)


def _status(row: ResultRow) -> str:
    return "amended" if row.revision > 1 else "submitted"


def _cells(row: ResultRow) -> tuple[Cell, ...]:
    return (
        row.review_id,
        _status(row),
        row.revision,
        row.rubric_key,
        row.rubric_version,
        row.role,
        row.therapist_id,
        row.case_id,
        row.case_ref,
        row.recording_id,
        row.recording_external_id,
        row.session_number,
        row.session_date,
        row.submitted_at,
        row.measure_kind,
        row.measure,
        row.value,
    )


async def _chunks(
    db: Database,
    org_id: uuid.UUID,
    query: ResultsQuery,
    therapists: list[uuid.UUID] | None,
    owed: list[uuid.UUID],
) -> AsyncIterator[bytes]:
    yield encode_rows([COLUMNS])
    async with db.snapshot() as tx:
        after: repository.RowKey | None = None
        while True:
            rows = await repository.page(
                tx,
                org_id,
                date_from=query.date_from,
                date_to=query.date_to,
                therapists=therapists,
                excluded=owed,
                rubric_key=query.rubric_key,
                rubric_version=query.rubric_version,
                roles=None if query.role is None else shared.roles(query.role),
                after=after,
                limit=PAGE_ROWS,
            )
            if rows:
                yield encode_rows(_cells(row) for row in rows)
            if len(rows) < PAGE_ROWS:
                return
            last = rows[-1]
            after = (last.review_id, last.measure_kind, last.measure)
