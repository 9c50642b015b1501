"""``GET /v1/exports/results.csv``: a clinic's results as CSV, one row per review and measure, streamed."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import QueryParameter
from litestar.response import Stream

from supervise.auth import permissions
from supervise.auth.principal import Principal
from supervise.db import Tx
from supervise.exports import service
from supervise.exports.cells import line, number, text
from supervise.http import problem_responses
from supervise.runtime import Runtime

__all__ = ["CSV", "ExportController"]

CSV = "text/csv"
"""Sent as ``text/csv; charset=utf-8`` (Litestar adds the charset to every text type)."""

_EXAMPLE = "".join(
    [
        line(text(name) for name in service.COLUMNS),
        *(
            line((
                text("01936f3e-6a10-7c3e-9a41-2f0d8c1b6e01"), text("submitted"), number(1), text("alliance"),
                text("1.1"), text("supervisor"), text("01936f3e-5b7a-7c3e-9a41-2f0d8c1b6e55"),
                text("01936f3e-5c00-7c3e-9a41-2f0d8c1b6e10"), text("C-2024-0173"),
                text("01936f3e-5d00-7c3e-9a41-2f0d8c1b6e20"), text("ehr-rec-1"), number(3), text("2026-11-02"),
                text("2026-11-05T14:30:00Z"), text(kind), text(key), number(value),
            ))
            for kind, key, value in (("item", "rapport", 6.0), ("item", "trust", 5.0), ("score", "total", 5.375))
        ),
    ]
)  # fmt: skip


class ExportController(Controller):
    path = "/v1/exports"
    tags = ["Exports"]

    @get(
        "/results.csv",
        operation_id="exportResultsCsv",
        permission=permissions.ReviewsRead,
        summary="Results as CSV (clinic systems)",
        description="One row per submitted review and measure (each session-level item, each subscale and the "
        "total: `measure_kind` `item` or `score`, as the aggregates name them), for the sessions that occurred "
        "from `from` to `to` (both included: whole days in the organisation's time zone, the session's date, "
        "not the submission's). The rows are the ones the series and team views count: the current revision of "
        "each review (an amended review appears once, as its latest revision, `review_status` `amended`), "
        "client ratings (role `client`) among them, and only sessions whose consent holds. Whose: yours, your "
        "supervisees' and, for admins, everyone's; a therapist whose session you still owe a first review of "
        "is left out (asked for by `therapist_id`: 409), as in the aggregates. Streamed from one snapshot of "
        "the database, in review order. Text cells are quoted, and one starting with `=`, `+`, `-`, `@`, a tab "
        "or a carriage return gets a `'` in front (CSV injection); numbers are bare. Audited.",
        responses={
            200: ResponseSpec(
                data_container=str,
                media_type=CSV,
                description="The results, as CSV (RFC 4180, UTF-8, a header line first)",
                generate_examples=False,
                examples=[Example(summary="Three measures of one review", value=_EXAMPLE)],
            )
        }
        | problem_responses(400, 401, 403, 404, 409, 422),
    )
    async def export_results(
        self,
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        date_from: Annotated[
            dt.date, QueryParameter(name="from", description="First session date (organisation's time zone).")
        ],
        date_to: Annotated[dt.date, QueryParameter(name="to", description="Last session date, included.")],
        therapist_id: Annotated[uuid.UUID | None, QueryParameter(description="Only this therapist's.")] = None,
        rubric: Annotated[
            str | None, QueryParameter(pattern=r"^[a-z0-9][a-z0-9.-]{0,63}$", description="Only this rubric (key).")
        ] = None,
        version: Annotated[
            str | None,
            QueryParameter(pattern=r"^[A-Za-z0-9][A-Za-z0-9.+-]{0,31}$", description="Only this rubric version."),
        ] = None,
        role: Annotated[
            Literal["supervisor", "peer", "self", "client", "observers"] | None,
            QueryParameter(description="Only one rater role, or `observers` (supervisors and peers)."),
        ] = None,
    ) -> Stream:
        query = service.ResultsQuery(date_from, date_to, therapist_id, rubric, version, role)
        chunks = await service.results_csv(tx, runtime.db, principal, query)
        return Stream(
            chunks,
            media_type=CSV,
            headers={"Content-Disposition": f"attachment; filename={service.filename(query)}"},
        )
