"""Agreement on segment markers (3RS): coders cut a recording into segments of their own, so their codings are
aligned on one time grid first — the rubric's segment length, from the start of the recording — and each
marker's agreement is Krippendorff's nominal alpha over the grid's cells.

A coder's value for a cell is 1 when a segment of theirs that overlaps the cell has the marker, 0 when their
segments cover the cell without it, and missing where they coded nothing. Cells two or more coders covered
are the units."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from typing import Any

import msgspec

from supervise.aggregates import repository
from supervise.aggregates.schemas import MarkerAgreement
from supervise.aggregates.shared import OBSERVERS
from supervise.aggregates.stats import krippendorff_alpha
from supervise.auth.principal import Principal
from supervise.db import Tx
from supervise.reviews import service as reviews
from supervise.rubrics.model import BooleanScale, Responses, RubricDefinition

__all__ = ["DEFAULT_GRID_MS", "grid_cells", "marker_agreement"]

DEFAULT_GRID_MS = 300_000
"""The grid when a segment rubric names no segment length: 5 minutes, the 3RS manual's."""


def grid_cells(responses: Responses, marker: str, grid_ms: int) -> dict[int, int]:
    """Cell index -> 1 or 0 for every cell the coder's segments overlap: 1 if one of them has ``marker``."""
    cells: dict[int, int] = {}
    for segment in responses.segments:
        present = 1 if segment.items.get(marker) is True else 0
        for cell in range(segment.start_ms // grid_ms, (segment.end_ms - 1) // grid_ms + 1):
            cells[cell] = max(cells.get(cell, 0), present)
    return cells


async def marker_agreement(
    tx: Tx,
    principal: Principal,
    asked: RubricDefinition,
    *,
    therapist_id: uuid.UUID | None,
    first: dt.date | None,
    last: dt.date | None,
) -> list[MarkerAgreement]:
    """Per yes/no segment item of a segment rubric, the observers' agreement on the grid; empty for a
    session rubric."""
    markers = [i for i in asked.items if i.level == "segment" and isinstance(i.scale, BooleanScale)]
    if asked.unit != "segment" or not markers:
        return []
    grid = asked.segment_ms or DEFAULT_GRID_MS
    codings = await repository.rated_responses(
        tx,
        reviews.viewer(principal),
        asked.key,
        asked.version,
        OBSERVERS,
        therapist_id=therapist_id,
        first=first,
        last=last,
    )
    parsed = [(c.recording_id, c.reviewer_id, msgspec.convert(c.responses, Responses)) for c in codings]
    out = []
    for marker in markers:
        units: dict[tuple[Any, int], list[float]] = defaultdict(list)
        coders = set()
        for recording_id, reviewer_id, responses in parsed:
            for cell, value in grid_cells(responses, marker.key, grid).items():
                units[(recording_id, cell)].append(float(value))
            coders.add(reviewer_id)
        paired = [values for values in units.values() if len(values) >= 2]
        alpha = krippendorff_alpha(paired, "nominal")
        out.append(
            MarkerAgreement(
                key=marker.key,
                label=marker.label,
                alpha=alpha,
                band=None
                if alpha is None
                else "reliable"
                if alpha >= 0.8
                else "tentative"
                if alpha >= 0.667
                else "unreliable",
                cells=len(paired),
                coders=len(coders),
                present=sum(int(sum(values)) for values in paired),
            )
        )
    return out
