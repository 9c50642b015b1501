"""Rater calibration: each rater's agreement with the reference reviews of training recordings."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from typing import Any

from supervise import problems
from supervise.aggregates import repository
from supervise.aggregates.schemas import Agreement, Calibration, DriftPoint, ItemAgreement, RaterCalibration
from supervise.aggregates.shared import OBSERVERS, definition
from supervise.audit import service as audit
from supervise.auth.principal import Principal
from supervise.clock import utcnow
from supervise.db import Tx
from supervise.errors import Forbidden
from supervise.reviews.schemas import RubricPin
from supervise.runtime import Runtime

__all__ = ["calibration"]


class _Agreement:
    __slots__ = ("close", "deviation", "n")

    def __init__(self) -> None:
        self.n, self.deviation, self.close = 0, 0.0, 0

    def add(self, rater: float, reference: float) -> None:
        self.n += 1
        self.deviation += abs(rater - reference)
        self.close += abs(rater - reference) <= 1.0 + 1e-9

    def fields(self) -> dict[str, Any]:
        if not self.n:
            return {"n": 0, "mean_absolute_deviation": None, "within_one": None}
        return {"n": self.n, "mean_absolute_deviation": self.deviation / self.n, "within_one": self.close / self.n}


async def calibration(
    tx: Tx,
    runtime: Runtime,
    principal: Principal,
    *,
    rubric_key: str,
    version: str | None,
    reviewer_id: uuid.UUID | None,
) -> Calibration:
    """Each rater's agreement with the reference reviews of training recordings: mean absolute deviation and
    share within 1 point, overall, per item, and per month (drift). Observers only (supervisors and peers): a
    self-rating or a client rating is no rater to calibrate. Yours; admins see every rater's."""
    if reviewer_id is None and not principal.is_admin:
        reviewer_id = principal.member_id
    if reviewer_id is not None and reviewer_id != principal.member_id and not principal.is_admin:
        raise Forbidden(problems.NOT_PERMITTED, "You see your own calibration; admins see every rater's.")
    asked = await definition(tx, runtime, rubric_key, version)
    labels = {item.key: item.label for item in asked.items}
    rows = await repository.calibration_pairs(tx, principal.org_id, asked.key, asked.version, reviewer_id, OBSERVERS)
    overall: dict[Any, _Agreement] = defaultdict(_Agreement)
    items: dict[Any, dict[str, _Agreement]] = defaultdict(lambda: defaultdict(_Agreement))
    months: dict[Any, dict[dt.date, _Agreement]] = defaultdict(lambda: defaultdict(_Agreement))
    recordings_rated: dict[Any, set[Any]] = defaultdict(set)
    for pair in rows:
        reviewer = pair.reviewer_id
        overall[reviewer].add(pair.value, pair.reference)
        items[reviewer][pair.measure].add(pair.value, pair.reference)
        month = (pair.submitted_at or utcnow()).astimezone(dt.UTC).date().replace(day=1)
        months[reviewer][month].add(pair.value, pair.reference)
        recordings_rated[reviewer].add(pair.recording_id)
    raters = [
        RaterCalibration(
            reviewer_id=reviewer,
            recordings=len(recordings_rated[reviewer]),
            overall=Agreement(**overall[reviewer].fields()),
            items=[
                ItemAgreement(key=key, label=labels.get(key, key), **items[reviewer][key].fields())
                for key in sorted(items[reviewer], key=lambda k: list(labels).index(k) if k in labels else len(labels))
            ],
            drift=[DriftPoint(month=month, **a.fields()) for month, a in sorted(months[reviewer].items())],
        )
        for reviewer in sorted(overall, key=str)
    ]
    audit.record_read(tx, principal, "aggregate.calibration", "member", reviewer_id)
    return Calibration(rubric=RubricPin(key=asked.key, version=asked.version), raters=raters)
