"""``GET /v1/exports/results.csv``: a clinic's results as CSV, one row per review and measure, streamed."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from litestar import Controller, get
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import QueryParameter
from litestar.response import Stream

from supervise.auth import permissions
from supervise.auth.principal import Principal
from supervise.db import Tx
from supervise.exports import service
from supervise.exports.cells import encode_rows
from supervise.http import problem_responses
from supervise.runtime import Runtime

__all__ = ["CSV", "ExportController"]

CSV = "text/csv"
"""Sent as ``text/csv; charset=utf-8`` (Litestar adds the charset to every text type)."""

_EXAMPLE = encode_rows(
    [
        service.COLUMNS,
        *(
            (
                uuid.UUID("01936f3e-6a10-7c3e-9a41-2f0d8c1b6e01"), "submitted", 1, "alliance", "1.1", "supervisor",
                uuid.UUID("01936f3e-5b7a-7c3e-9a41-2f0d8c1b6e55"), uuid.UUID("01936f3e-5c00-7c3e-9a41-2f0d8c1b6e10"),
                "=C-2024-0173" if kind == "none" else "C-2024-0173", uuid.UUID("01936f3e-5d00-7c3e-9a41-2f0d8c1b6e20"),
                "ehr-rec-1", 3, dt.date(2026, 11, 2), dt.datetime(2026, 11, 5, 14, 30, tzinfo=dt.UTC), kind, key, value,
            )
            for kind, key, value in (("item", "rapport", 6.0), ("item", "trust", 5.0), ("score", "total", 5.375))
        ),
    ]
).decode()  # fmt: skip

_DISPOSITION = ResponseHeader(
    name="Content-Disposition",
    value="attachment; filename=results-2026-11-01-to-2026-11-30.csv",
    description="`attachment`, with a file name that says the range: `results-<from>-to-<to>.csv`.",
    documentation_only=True,
)

Day = Annotated[dt.date, QueryParameter(description="A session date in the organisation's time zone.")]


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
        response_headers=[_DISPOSITION],
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
