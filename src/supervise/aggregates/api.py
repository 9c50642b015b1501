"""``/v1/aggregates``: statistics over submitted reviews, read from rollups."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal, TypeVar, cast

import msgspec
from litestar import Controller, MediaType, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import FromPath, QueryParameter

from supervise.aggregates import calibration, comparisons, flags, perspectives, views
from supervise.aggregates.schemas import (
    Bucket,
    BucketSize,
    Calibration,
    CaseTrajectory,
    FlagPage,
    MeasureSeries,
    Perspectives,
    Reliability,
    RoleFilter,
    SelfVsObserver,
    TeamCell,
    TeamRole,
    TeamRow,
    TeamView,
    TherapistSeries,
    Unit,
    Usefulness,
)
from supervise.aggregates.shared import MIN_CELL_SESSIONS
from supervise.auth import permissions
from supervise.auth.principal import Principal
from supervise.db import Tx
from supervise.http import problem_responses, to
from supervise.pagination import DEFAULT_LIMIT
from supervise.parameters import Cursor, Limit, page
from supervise.reviews.schemas import RubricPin
from supervise.runtime import Runtime

__all__ = ["AggregateController"]

T = TypeVar("T")

RubricKey = Annotated[str, QueryParameter(pattern=r"^[a-z0-9][a-z0-9.-]{0,63}$", description="The rubric (key).")]
Version = Annotated[
    str | None,
    QueryParameter(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9.+-]{0,31}$", description="Its version; the latest installed by default."
    ),
]
Role = Annotated[
    RoleFilter,
    QueryParameter(description="Whose ratings: one rater role, or `observers` (supervisors and peers)."),
]
From = Annotated[
    dt.date | None,
    QueryParameter(name="from", description="First day (the session's date in the organisation's time zone)."),
]
To = Annotated[dt.date | None, QueryParameter(name="to", description="Last day, included.")]


_THERAPIST = uuid.UUID("01936f3e-5b7a-7c3e-9a41-2f0d8c1b6e55")
_SERIES_EXAMPLE = TherapistSeries(
    therapist_id=_THERAPIST,
    rubric=RubricPin(key="alliance", version="1.0"),
    versions=["1.0"],
    version_chosen="latest",
    role="observers",
    bucket="month",
    date_from=dt.date(2026, 9, 1),
    date_to=dt.date(2026, 10, 31),
    measures=[
        MeasureSeries(
            kind="item",
            key="rapport",
            label="Rapport",
            buckets=[
                Bucket(
                    start=dt.date(2026, 9, 1),
                    n=6,
                    reviews=11,
                    mean=5.5,
                    sd=0.548,
                    ci95=(4.925, 6.075),
                    min=5.0,
                    max=6.0,
                ),
                Bucket(start=dt.date(2026, 10, 1), n=3, reviews=5, mean=6.0, sd=0.0, ci95=(6.0, 6.0), min=6.0, max=6.0),
            ],
        ),
        MeasureSeries(
            kind="score",
            key="total",
            label="Alliance (total)",
            buckets=[
                Bucket(
                    start=dt.date(2026, 9, 1),
                    n=6,
                    reviews=11,
                    mean=5.19,
                    sd=0.41,
                    ci95=(4.76, 5.62),
                    min=4.625,
                    max=5.75,
                ),
                Bucket(
                    start=dt.date(2026, 10, 1),
                    n=3,
                    reviews=5,
                    mean=5.5,
                    sd=0.177,
                    ci95=(5.06, 5.94),
                    min=5.375,
                    max=5.625,
                ),
            ],
        ),
    ],
)
_TEAM_EXAMPLE = TeamView(
    rubric=RubricPin(key="alliance", version="1.0"),
    versions=["1.0"],
    version_chosen="latest",
    role="observers",
    date_from=dt.date(2026, 9, 1),
    date_to=dt.date(2026, 9, 30),
    min_cell_sessions=MIN_CELL_SESSIONS,
    labels={"item:rapport": "Rapport", "score:total": "Alliance (total)"},
    therapists=[
        TeamRow(
            therapist_id=_THERAPIST,
            cells=[
                TeamCell(kind="item", key="rapport", suppressed=False, n=7, reviews=13,
                         mean=5.57, sd=0.535, ci95=(5.08, 6.07), min=5.0, max=6.0),
                TeamCell(kind="score", key="total", suppressed=False, n=7, reviews=13,
                         mean=5.23, sd=0.39, ci95=(4.87, 5.59), min=4.625, max=5.75),
            ],
        ),
        TeamRow(
            therapist_id=uuid.UUID("01936f3e-5b7a-7c3e-9a41-2f0d8c1b6e56"),
            cells=[
                TeamCell(kind="item", key="rapport", suppressed=False, n=12, reviews=20,
                         mean=4.92, sd=0.79, ci95=(4.41, 5.42), min=4.0, max=6.0),
                TeamCell(kind="score", key="total", suppressed=False, n=12, reviews=20,
                         mean=4.71, sd=0.62, ci95=(4.31, 5.10), min=3.875, max=5.625),
            ],
        ),
    ],
)  # fmt: skip


def _answer(container: type, example: Any, summary: str) -> dict[int, ResponseSpec]:
    """The 200 answer, documented with an example a front end can build against (without nulls: the document
    generator drops them from examples, where they would look like missing fields)."""
    return {
        200: ResponseSpec(
            data_container=container,
            description=summary,
            generate_examples=False,
            examples=[Example(summary=summary, value=msgspec.to_builtins(example))],
        )
    }


def _encoded(view: views.View[T]) -> Response[T]:
    """The answer as the JSON cached with it (Litestar sends bytes as they are); documented as ``T``."""
    return Response(cast("T", view.json), media_type=MediaType.JSON)


class AggregateController(Controller):
    path = "/v1/aggregates"
    tags = ["Aggregates"]

    @get(
        "/therapists/{therapist_id:uuid}/series",
        operation_id="getTherapistSeries",
        permission=permissions.ReviewsRead,
        summary="A therapist's alliance over time",
        description="Per item and per score of a rubric version, per week, month, quarter or all time, by "
        "rater role: n, mean, sd, 95% CI, min, max, and the reviews behind them. `n` counts sessions, each the "
        "mean of the reviews of it in the roles asked (`unit=session`), or single reviews (`unit=review`, read "
        "from rollups kept current at every submission). For the therapist, their supervisors and admins. "
        "Audited.",
        responses=_answer(TherapistSeries, _SERIES_EXAMPLE, "Monthly figures per item and score")
        | problem_responses(400, 401, 403, 404, 422),
    )
    async def therapist_series(
        self,
        therapist_id: FromPath[uuid.UUID],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        rubric: RubricKey,
        version: Version = None,
        bucket: Annotated[BucketSize, QueryParameter(description="Time bucket.")] = "month",
        role: Role = "observers",
        unit: Annotated[
            Unit, QueryParameter(description="What `n` counts: sessions (observers averaged within one) or reviews.")
        ] = "session",
        date_from: From = None,
        date_to: To = None,
    ) -> Response[TherapistSeries]:
        view = await views.therapist_series(
            tx,
            runtime,
            principal,
            therapist_id,
            rubric_key=rubric,
            version=version,
            bucket=bucket,
            role=role,
            unit=unit,
            date_from=date_from,
            date_to=date_to,
        )
        return _encoded(view)

    @get(
        "/team",
        operation_id="getTeamView",
        permission=permissions.ReviewsRead,
        summary="A team side by side",
        description="Per therapist of a supervisor's team (yours by default; admins: any supervisor's, or the "
        f"whole organisation without `supervisor_id`), every measure's statistics per session (`n` sessions, "
        f"each the mean of its reviews; `reviews` beside it), over all time or one whole calendar month (`from` "
        f"its first day, `to` its last). Cells of fewer than {MIN_CELL_SESSIONS} sessions are withheld "
        f"(`suppressed`), and an all-time cell too when the months withheld hold 1 to {MIN_CELL_SESSIONS - 1} "
        f"sessions together, so no subtraction of cells singles a session out. Audited.",
        responses=_answer(TeamView, _TEAM_EXAMPLE, "Two therapists side by side")
        | problem_responses(400, 401, 403, 422),
    )
    async def team_view(
        self,
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        rubric: RubricKey,
        version: Version = None,
        supervisor_id: Annotated[uuid.UUID | None, QueryParameter(description="Whose team.")] = None,
        role: Annotated[
            TeamRole,
            QueryParameter(description="Whose ratings: `observers` (supervisors and peers), `self` or `client`."),
        ] = "observers",
        date_from: From = None,
        date_to: To = None,
    ) -> Response[TeamView]:
        view = await views.team_view(
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
        return _encoded(view)

    @get(
        "/therapists/{therapist_id:uuid}/perspectives",
        operation_id="getPerspectives",
        permission=permissions.ReviewsRead,
        summary="Client, therapist and observers on the same sessions",
        description="Per session of the therapist: the client's rating (with `client_rubric`, e.g. `srs`), the "
        "therapist's self-rating and the observers' mean (with `rubric`), each as a percentage of its "
        "measure's range (0 least, 100 most favourable), so different instruments compare; and the mean gaps "
        "between perspectives over the sessions rated from both, with n, sd and 95% CI. Only reviews you may "
        "read: client ratings are seen by the therapist, their supervisors and admins. Audited.",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def perspectives(
        self,
        therapist_id: FromPath[uuid.UUID],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        rubric: RubricKey,
        client_rubric: Annotated[
            str,
            QueryParameter(pattern=r"^[a-z0-9][a-z0-9.-]{0,63}$", description="The client-rated rubric, e.g. srs."),
        ],
        version: Version = None,
        client_version: Annotated[
            str | None,
            QueryParameter(pattern=r"^[A-Za-z0-9][A-Za-z0-9.+-]{0,31}$", description="Its version; the latest."),
        ] = None,
        measure: Annotated[
            str, QueryParameter(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="Item or score of rubric.")
        ] = "total",
        client_measure: Annotated[
            str,
            QueryParameter(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="Item or score of client_rubric."),
        ] = "total",
        date_from: From = None,
        date_to: To = None,
    ) -> Perspectives:
        return await perspectives.perspectives(
            tx,
            runtime,
            principal,
            therapist_id,
            rubric_key=rubric,
            version=version,
            measure=measure,
            client_rubric_key=client_rubric,
            client_version=client_version,
            client_measure=client_measure,
            date_from=date_from,
            date_to=date_to,
        )

    @get(
        "/therapists/{therapist_id:uuid}/self-vs-observer",
        operation_id="getSelfVsObserver",
        permission=permissions.ReviewsRead,
        summary="How a therapist's self-ratings compare with observers'",
        description="Per item and score: over recordings the therapist rated and at least one observer rated, "
        "the mean gap (self minus the observers' mean on that recording) with its n, sd and 95% CI. For the "
        "therapist, their supervisors and admins. Audited.",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def self_vs_observer(
        self,
        therapist_id: FromPath[uuid.UUID],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        rubric: RubricKey,
        version: Version = None,
        date_from: From = None,
        date_to: To = None,
    ) -> SelfVsObserver:
        return await comparisons.self_vs_observer(
            tx,
            runtime,
            principal,
            therapist_id,
            rubric_key=rubric,
            version=version,
            date_from=date_from,
            date_to=date_to,
        )

    @get(
        "/cases/{case_id:uuid}/trajectory",
        operation_id="getCaseTrajectory",
        permission=permissions.ReviewsRead,
        summary="A case's alliance session by session",
        description="Per session of the case: the measure's mean per rater role, the change since that role's "
        "previous rated session, and `rupture` when it fell by more than `drop_threshold` (15% of the "
        "measure's range by default). For the therapist, their supervisors and admins. Audited.",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def case_trajectory(
        self,
        case_id: FromPath[uuid.UUID],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        rubric: RubricKey,
        version: Version = None,
        measure: Annotated[
            str, QueryParameter(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="An item or score key.")
        ] = "total",
    ) -> CaseTrajectory:
        return await comparisons.case_trajectory(
            tx, runtime, principal, case_id, rubric_key=rubric, version=version, measure=measure
        )

    @get(
        "/usefulness",
        operation_id="getFeedbackUsefulness",
        permission=permissions.ReviewsRead,
        summary="How useful therapists found each reviewer's feedback",
        description="The usefulness ratings (1-5) therapists gave when acknowledging reviews, per reviewer: "
        "yours; admins any reviewer's, or everyone's without `reviewer_id`. Audited.",
        responses=problem_responses(400, 401, 403),
    )
    async def usefulness(
        self,
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        reviewer_id: Annotated[uuid.UUID | None, QueryParameter(description="Whose feedback.")] = None,
    ) -> Usefulness:
        return await comparisons.usefulness(tx, principal, reviewer_id=reviewer_id)

    @get(
        "/flags",
        operation_id="listFlags",
        permission=permissions.ReviewsRead,
        summary="The flags feed",
        description="Flags that submitted reviews' results raised (below a published cutoff, an unresolved "
        "confrontation, ...), newest first, from the reviews you may see. `severity` is the least severe "
        "shown (`warning`: warnings and critical ones). Audited.",
        responses=problem_responses(400, 401, 403),
    )
    async def list_flags(
        self,
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        therapist_id: Annotated[uuid.UUID | None, QueryParameter(description="Only this therapist's.")] = None,
        severity: Annotated[
            Literal["info", "warning", "critical"], QueryParameter(description="The least severe shown.")
        ] = "info",
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> FlagPage:
        scope = f"flags?t={therapist_id}&s={severity}"
        found = await flags.list_flags(
            tx, runtime, principal, page(principal, scope, cursor, limit), therapist_id=therapist_id, severity=severity
        )
        return to(FlagPage, found)

    @get(
        "/reliability",
        operation_id="getReliability",
        permission=permissions.ReviewsRead,
        summary="How well observers agree",
        description="For recordings rated by two or more observers with the same rubric version, "
        "Krippendorff's alpha per item and score (interval for scales and scores, nominal for yes/no "
        "markers), labelled by Krippendorff's bands, with the units, raters and values behind it. From the "
        "reviews you may read; optionally one therapist's sessions and a date range. Audited.",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def reliability(
        self,
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        rubric: RubricKey,
        version: Version = None,
        therapist_id: Annotated[uuid.UUID | None, QueryParameter(description="Only this therapist's sessions.")] = None,
        date_from: From = None,
        date_to: To = None,
    ) -> Reliability:
        return await comparisons.reliability(
            tx,
            runtime,
            principal,
            rubric_key=rubric,
            version=version,
            therapist_id=therapist_id,
            date_from=date_from,
            date_to=date_to,
        )

    @get(
        "/calibration",
        operation_id="getCalibration",
        permission=permissions.ReviewsRead,
        summary="How raters agree with the reference reviews",
        description="For every rater of a recording that has a reference review (see `POST "
        "/v1/reviews/{id}/reference`) with the same rubric version: mean absolute deviation from the "
        "reference and the share of item ratings within 1 point, overall, per item and per month of "
        "submission (drift). Yours; admins see every rater's. Audited.",
        responses=problem_responses(400, 401, 403, 422),
    )
    async def calibration(
        self,
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        rubric: RubricKey,
        version: Version = None,
        reviewer_id: Annotated[uuid.UUID | None, QueryParameter(description="Whose calibration.")] = None,
    ) -> Calibration:
        return await calibration.calibration(
            tx, runtime, principal, rubric_key=rubric, version=version, reviewer_id=reviewer_id
        )
