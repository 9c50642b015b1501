"""The rubric plugin contract: what a plugin author imports.

A plugin is a Python distribution with an entry point in the ``supervise`` group::

    [project.entry-points.supervise]
    my_rubric = "my_package"

whose module implements :func:`supervise_rubrics` (see :mod:`supervise.rubrics.hookspecs`) with the
:data:`hookimpl` marker and returns :class:`Rubric` objects built from the types below.
"""

from __future__ import annotations

from supervise.rubrics.hookspecs import hookimpl
from supervise.rubrics.model import (
    COUNT_LIMIT,
    Anchor,
    BooleanScale,
    ChangeRule,
    CountScale,
    Flag,
    Item,
    OrdinalScale,
    RaterRole,
    Responses,
    Result,
    Rubric,
    RubricDefinition,
    Scale,
    ScoreSpec,
    SegmentResponses,
    Severity,
    Subscale,
    Threshold,
    Unit,
    Value,
    apply_thresholds,
    keyed,
    standard_scoring,
)

__all__ = [
    "COUNT_LIMIT",
    "Anchor",
    "BooleanScale",
    "ChangeRule",
    "CountScale",
    "Flag",
    "Item",
    "OrdinalScale",
    "RaterRole",
    "Responses",
    "Result",
    "Rubric",
    "RubricDefinition",
    "Scale",
    "ScoreSpec",
    "SegmentResponses",
    "Severity",
    "Subscale",
    "Threshold",
    "Unit",
    "Value",
    "apply_thresholds",
    "hookimpl",
    "keyed",
    "standard_scoring",
]
