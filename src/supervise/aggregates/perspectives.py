"""Client, therapist and observers on the same sessions: each perspective on its own instrument (the client's
SRS or WAI-SR, the therapist's self-rating and the observers' ratings with an observer rubric), compared as a
percentage of each measure's range (a POMP score: 0 the least favourable end, 100 the most)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict

from supervise import problems
from supervise.aggregates import repository
from supervise.aggregates.schemas import Pair, PerspectiveGap, Perspectives, SessionPerspectives, Stats
from supervise.aggregates.shared import (
    OBSERVERS,
    check_range,
    definition,
    measure_range,
    measures,
    stats,
    visible_therapist,
)
from supervise.aggregates.stats import summarise
from supervise.audit import service as audit
from supervise.auth.principal import Principal
from supervise.db import Tx
from supervise.errors import FieldError, Unprocessable
from supervise.reviews import service as reviews
from supervise.reviews.schemas import RubricPin
from supervise.rubrics.model import RubricDefinition
from supervise.runtime import Runtime

__all__ = ["perspectives"]


def _measure(asked: RubricDefinition, measure: str, field: str) -> tuple[str, float, float]:
    """``(kind, min, max)`` of a bounded measure of the rubric; 422 naming ``field`` otherwise."""
    kind = next((k for k, key, _ in measures(asked) if key == measure), None)
    low, high = measure_range(asked, kind, measure) if kind is not None else (None, None)
    if kind is None:
        problem = f"{asked.key} {asked.version} has no item or score '{measure}'"
    elif low is None or high is None or high <= low:
        problem = f"'{measure}' has no bounded range to compare as a share of"
    else:
        return kind, float(low), float(high)
    raise Unprocessable(problems.RUBRIC_UNKNOWN, "The measure cannot be compared.", errors=[FieldError(field, problem)])


async def perspectives(
    tx: Tx,
    runtime: Runtime,
    principal: Principal,
    therapist_id: uuid.UUID,
    *,
    rubric_key: str,
    version: str | None,
    measure: str,
    client_rubric_key: str,
    client_version: str | None,
    client_measure: str,
    date_from: dt.date | None,
    date_to: dt.date | None,
) -> Perspectives:
    """Per session of the therapist rated from at least one perspective, each perspective as a percentage of
    its measure's range, and the mean gaps between them over the sessions rated from both; only reviews the
    caller may read (client ratings: the therapist, their supervisors and admins)."""
    await visible_therapist(tx, principal, therapist_id)
    check_range(date_from, date_to)
    asked = await definition(tx, runtime, rubric_key, version)
    client = await definition(tx, runtime, client_rubric_key, client_version)
    if "client" not in client.rater_roles:
        raise Unprocessable(
            problems.RUBRIC_UNKNOWN,
            "The client rubric is not rated by clients.",
            errors=[FieldError("client_rubric", f"{client.key} is rated by: {', '.join(client.rater_roles)}")],
        )
    kind, low, high = _measure(asked, measure, "measure")
    client_kind, client_low, client_high = _measure(client, client_measure, "client_measure")
    viewer, span = reviews.viewer(principal), (date_from, date_to)
    rated = await repository.role_values(
        tx, viewer, therapist_id, asked.key, asked.version, kind, measure, ("self", *OBSERVERS), *span
    )
    rated += await repository.role_values(
        tx,
        viewer,
        therapist_id,
        client.key,
        client.version,
        client_kind,
        client_measure,
        ("client",),
        date_from,
        date_to,
    )
    by_session: dict[uuid.UUID, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    when: dict[uuid.UUID, tuple[int, dt.datetime]] = {}
    for row in rated:
        lo, hi = (client_low, client_high) if row.role == "client" else (low, high)
        perspective = "observers" if row.role in OBSERVERS else ("client" if row.role == "client" else "therapist")
        by_session[row.recording_id][perspective].append(100 * (row.value - lo) / (hi - lo))
        when[row.recording_id] = (row.session_number, row.occurred_at)
    sessions = []
    for recording_id in sorted(by_session, key=lambda r: (when[r], str(r))):
        seen = by_session[recording_id]

        def mean(values: list[float]) -> float | None:
            return sum(values) / len(values) if values else None

        sessions.append(
            SessionPerspectives(
                recording_id=recording_id,
                session_number=when[recording_id][0],
                occurred_at=when[recording_id][1],
                client=mean(seen["client"]),
                therapist=mean(seen["therapist"]),
                observers=mean(seen["observers"]),
                observer_n=len(seen["observers"]),
            )
        )
    gaps = []
    pairs: tuple[tuple[Pair, str, str], ...] = (
        ("client_minus_observers", "client", "observers"),
        ("client_minus_therapist", "client", "therapist"),
        ("therapist_minus_observers", "therapist", "observers"),
    )
    for pair, first, second in pairs:
        differences = [
            a - b for s in sessions if (a := getattr(s, first)) is not None and (b := getattr(s, second)) is not None
        ]
        summary = summarise(
            len(differences),
            sum(differences),
            sum(d * d for d in differences),
            min(differences, default=None),
            max(differences, default=None),
        )
        gaps.append(PerspectiveGap(pair=pair, gap=Stats(**stats(summary, (-100, 100)))))
    audit.record_read(tx, principal, "aggregate.perspectives", "member", therapist_id)
    return Perspectives(
        therapist_id=therapist_id,
        rubric=RubricPin(key=asked.key, version=asked.version),
        measure=measure,
        client_rubric=RubricPin(key=client.key, version=client.version),
        client_measure=client_measure,
        date_from=date_from,
        date_to=date_to,
        sessions=sessions,
        gaps=gaps,
    )
