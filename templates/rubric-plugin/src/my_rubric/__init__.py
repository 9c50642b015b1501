"""A template rubric plugin: a clinic's own four-item competence scale.

Everything a rubric is lives in the ``Rubric`` below: its items and scales, subscales, thresholds (each
naming its source) and, only if the standard sums and means are not enough, a scoring function.
"""

from __future__ import annotations

from supervise.rubrics import (
    Anchor,
    Item,
    OrdinalScale,
    Responses,
    Result,
    Rubric,
    ScoreSpec,
    Subscale,
    Threshold,
    hookimpl,
    standard_scoring,
)

SCALE = OrdinalScale(
    min=0,
    max=4,
    start=2,  # where raters start, if your manual says so; leave it out otherwise
    anchors=(Anchor(value=0, label="Not shown"), Anchor(value=4, label="Shown with skill throughout")),
)


def score(rubric: Rubric, responses: Responses) -> Result:
    """Optional custom scoring: compute the extra scores declared in ``scores=`` and hand them to
    ``standard_scoring``, which adds the subscales and the total and applies every threshold."""
    answered = [responses.items[item.key] for item in rubric.items if item.key in responses.items]
    top_marks = float(sum(1 for value in answered if value == SCALE.max))
    return standard_scoring(rubric, responses, extra={"top_marks": top_marks})


MY_RUBRIC = Rubric(
    key="my-rubric",  # lower-case, digits, dashes; never reuse a key for a different instrument
    version="1.0",  # change it whenever items, scales, thresholds or scoring change
    title="Riverside clinic competence scale",
    description="Four skills our supervisors look for in every recorded session, each rated 0-4.",
    citation="Riverside Clinic, internal supervision manual, 2026.",
    licence="Internal use; labels written by the clinic.",
    manual_version="2026-1",
    rater_roles=("supervisor", "peer", "self"),
    items=(
        Item(key="agenda", label="Shared agenda", help="Set together at the start.", scale=SCALE, subscale="structure"),
        Item(
            key="summary",
            label="Summaries",
            help="Regular, checked with the client.",
            scale=SCALE,
            subscale="structure",
        ),
        Item(key="empathy", label="Empathy", help="Accurate and warm.", scale=SCALE, subscale="relationship"),
        Item(key="repair", label="Repair", help="Notices and mends strains.", scale=SCALE, subscale="relationship"),
    ),
    subscales=(
        Subscale(key="structure", label="Structure", items=("agenda", "summary")),
        Subscale(key="relationship", label="Relationship", items=("empathy", "repair")),
    ),
    total="sum",
    scores=(ScoreSpec(key="top_marks", label="Items at the top of the scale", min=0, max=4),),
    thresholds=(
        Threshold(
            key="below_standard",
            target="total",
            op="lt",
            value=8,
            severity="warning",
            message="Below the clinic's standard for independent practice.",
            source="Riverside supervision manual 2026, section 3",
        ),
    ),
    score=score,
)


@hookimpl
def supervise_rubrics() -> list[Rubric]:
    """Called once when the server starts. Return every version you support, old ones included."""
    return [MY_RUBRIC]
