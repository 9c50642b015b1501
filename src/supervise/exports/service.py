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
from supervise.exports.cells import line, number, text
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


async def results_csv(
    tx: Tx, db: Database, principal: Principal, query: ResultsQuery, *, page_rows: int = PAGE_ROWS
) -> AsyncIterator[bytes]:
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
    return _chunks(db, principal.org_id, query, therapists, owed, page_rows)


def _review_cells(row: ResultRow) -> str:
    """The cells a review's rows share, encoded: everything before the measure."""
    return ",".join((
        text(row.review_id),
        text("amended" if row.revision > 1 else "submitted"),
        number(row.revision),
        text(row.rubric_key),
        text(row.rubric_version),
        text(row.role),
        text(row.therapist_id),
        text(row.case_id),
        text(row.case_ref),
        text(row.recording_id),
        text(row.recording_external_id),
        number(row.session_number),
        text(row.session_date),
        text(row.submitted_at),
    ))  # fmt: skip


def _encoded(rows: list[ResultRow], kept: dict[uuid.UUID, str]) -> bytes:
    """The rows as CSV lines; ``kept`` holds the last review's cells (a page may end inside a review)."""
    out = []
    for row in rows:
        prefix = kept.get(row.review_id)
        if prefix is None:
            kept.clear()
            prefix = kept[row.review_id] = _review_cells(row)
        out.append(line((prefix, text(row.measure_kind), text(row.measure), number(row.value))))
    return "".join(out).encode()


async def _chunks(
    db: Database,
    org_id: uuid.UUID,
    query: ResultsQuery,
    therapists: list[uuid.UUID] | None,
    owed: list[uuid.UUID],
    page_rows: int,
) -> AsyncIterator[bytes]:
    yield line(text(name) for name in COLUMNS).encode()
    review_cells: dict[uuid.UUID, str] = {}
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
                limit=page_rows,
            )
            if rows:
                yield _encoded(rows, review_cells)
            if len(rows) < page_rows:
                return
            last = rows[-1]
            after = (last.review_id, last.measure_kind, last.measure)
