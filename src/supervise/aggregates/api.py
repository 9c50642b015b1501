"""``/v1/aggregates``: statistics over submitted reviews, read from rollups."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from supervise.aggregates import service
from supervise.aggregates.schemas import BucketSize, RoleFilter, TeamView, TherapistSeries
from supervise.auth.principal import Principal
from supervise.http import problem_responses
from supervise.runtime import Runtime

__all__ = ["AggregateController"]

RubricKey = Annotated[str, QueryParameter(pattern=r"^[a-z0-9][a-z0-9.-]{0,63}$", description="The rubric (key).")]
Version = Annotated[
    str | None,
    QueryParameter(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9.+-]{0,31}$", description="Its version; the latest installed by default."
    ),
]
Role = Annotated[
    RoleFilter,
    QueryParameter(description="Whose ratings: one rater role, or `observers` (everyone but the therapist)."),
]
From = Annotated[dt.date | None, QueryParameter(name="from", description="First day (the session's date, UTC).")]
To = Annotated[dt.date | None, QueryParameter(name="to", description="Last day, included.")]


class AggregateController(Controller):
    path = "/v1/aggregates"
    tags = ["Aggregates"]

    @get(
        "/therapists/{therapist_id:uuid}/series",
        operation_id="getTherapistSeries",
        summary="A therapist's alliance over time",
        description="Per item and per score of a rubric version, per week, month, quarter or all time, by "
        "rater role: n, mean, sd, 95% CI, min, max. For the therapist, their supervisors and admins. "
        "Read from rollups kept current at every submission. Audited.",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def therapist_series(
        self,
        therapist_id: FromPath[uuid.UUID],
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        rubric: RubricKey,
        version: Version = None,
        bucket: Annotated[BucketSize, QueryParameter(description="Time bucket.")] = "month",
        role: Role = "observers",
        date_from: From = None,
        date_to: To = None,
    ) -> TherapistSeries:
        return await service.therapist_series(
            tx,
            runtime,
            principal,
            therapist_id,
            rubric_key=rubric,
            version=version,
            bucket=bucket,
            role=role,
            date_from=date_from,
            date_to=date_to,
        )

    @get(
        "/team",
        operation_id="getTeamView",
        summary="A team side by side",
        description="Per therapist of a supervisor's team (yours by default; admins: any supervisor's, or the "
        f"whole organisation without `supervisor_id`), every measure's statistics. Cells built from fewer than "
        f"{service.MIN_CELL_REVIEWS} reviews are withheld (`suppressed`). Audited.",
        responses=problem_responses(400, 401, 403, 422),
    )
    async def team_view(
        self,
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        rubric: RubricKey,
        version: Version = None,
        supervisor_id: Annotated[uuid.UUID | None, QueryParameter(description="Whose team.")] = None,
        role: Role = "observers",
        date_from: From = None,
        date_to: To = None,
    ) -> TeamView:
        return await service.team_view(
            tx,
            runtime,
            principal,
            supervisor_id=supervisor_id,
            rubric_key=rubric,
            version=version,
            role=role,
            date_from=date_from,
            date_to=date_to,
        )
