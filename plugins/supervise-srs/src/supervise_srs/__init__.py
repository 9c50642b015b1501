"""Session Rating Scale (SRS): the four domains and their scoring only.

The client rates the session at its end on four visual-analogue lines, read as 0-10 with one decimal:
relationship, goals and topics, approach or method, and overall. The total is their sum (0-40); there are
no subscales. A 0 is a real answer, not a missing one. Thresholds are data and name their source: a total
below 36, and any item below 9.

The third flag of the SRS literature, a fall of 1 point or more in the total since the client's previous
session, compares sessions: it is declared as a change rule, which the host applies across a case's sessions
when a rating is stored.

The form, its wording and layout are licensed by its authors: only domain names and scoring are shipped.
"""

from __future__ import annotations

from supervise.rubrics import (
    Anchor,
    ChangeRule,
    Item,
    OrdinalScale,
    Rubric,
    Threshold,
    hookimpl,
)

__all__ = ["CHANGE_RULES", "SRS", "THRESHOLDS", "supervise_rubrics"]

"""Answers carry one decimal, so a total does too."""

SCALE = OrdinalScale(
    min=0,
    max=10,
    step=0.1,
    anchors=(
        Anchor(value=0, label="Least favourable end of the line"),
        Anchor(value=10, label="Most favourable end of the line"),
    ),
)

THRESHOLDS: tuple[Threshold, ...] = (
    Threshold(
        key="total_below_36",
        target="total",
        op="lt",
        value=36,
        severity="warning",
        message="The client's SRS total is below 36: the alliance may be at risk; ask about it.",
        source="Miller & Duncan, ORS/SRS administration and scoring manual: total below 36 (some sources "
        "use 36 or below; check)",
    ),
    Threshold(
        key="item_below_9",
        target="*",
        op="lt",
        value=9,
        severity="info",
        message="At least one SRS domain was rated below 9: invite the client to say what could be better.",
        source="SRS clinical guidance (Miller, Duncan and colleagues): any item below 9 is worth discussing (check)",
    ),
)

CHANGE_RULES: tuple[ChangeRule, ...] = (
    ChangeRule(
        key="total_fell_1",
        target="total",
        drop_at_least=1,
        severity="warning",
        message="The client's SRS total fell by 1 point or more since their previous session: ask about it.",
        source="PCOMS (Duncan & Miller): a drop of 1 point or more in the SRS total from one session to the next "
        "signals a possible problem in the alliance",
    ),
)


SRS = Rubric(
    key="srs",
    version="1.0",
    title="Session Rating Scale (SRS)",
    description="Client rating of the session just ended, on four 0-10 lines (one decimal): relationship, "
    "goals and topics, approach or method, overall. Total = sum of the four (0-40); no subscales; 0 is a "
    "valid answer. Flags (thresholds with sources): total below 36, and any item below 9; and, across sessions, "
    "a fall of 1 point or more in the total since the client's previous session. Domain names only: the "
    "form's wording is the authors'.",
    citation="Duncan, B. L., Miller, S. D., Sparks, J. A., Claud, D. A., Reynolds, L. R., Brown, J., & Johnson, "
    "L. D. (2003). The Session Rating Scale: Preliminary psychometric properties of a 'working' alliance "
    "measure. Journal of Brief Therapy, 3(1), 3-12.",
    licence="Licensed by its authors (Johnson, Miller & Duncan): only the domain names and the scoring are "
    "shipped; the form, its wording and layout require the authors' licence.",
    manual_version="SRS V.3.0",
    rater_roles=("client",),
    items=(
        Item(
            key="relationship",
            label="Relationship",
            help="How far the client experienced being listened to and taken seriously.",
            scale=SCALE,
        ),
        Item(
            key="goals_topics",
            label="Goals and topics",
            help="How far the session dealt with the client's own concerns.",
            scale=SCALE,
        ),
        Item(
            key="approach", label="Approach or method", help="How well the method used suited this client.", scale=SCALE
        ),
        Item(key="overall", label="Overall", help="The client's judgement of the session as a whole.", scale=SCALE),
    ),
    subscales=(),
    total="sum",
    thresholds=THRESHOLDS,
    change_rules=CHANGE_RULES,
)


@hookimpl
def supervise_rubrics() -> list[Rubric]:
    return [SRS]
