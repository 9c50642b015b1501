"""The seed alliance rubric: our own observer rubric of the qualities supervise exists for.

Eight items rated 1-7, where 4 means "no evidence either way" and raters start there. Subscales: Bond
(rapport, trust, warmth, feeling understood), Partnership (collaboration, respect, empowerment) and
Responsiveness (flexibility). Scores are means. Openly licensed: the labels and help texts are ours.

Version 1.1 is 1.0 with one change rule: the total fell by more than 15% of its range (0.9 points) since the
same rater's previous session of the case. 1.0 stays installed, unchanged, for the reviews made with it.
"""

from __future__ import annotations

import dataclasses

from supervise.rubrics import Anchor, ChangeRule, Item, OrdinalScale, Rubric, Subscale, Threshold, hookimpl

__all__ = ["ALLIANCE", "ALLIANCE_1_1", "supervise_rubrics"]

SCALE = OrdinalScale(
    min=1,
    max=7,
    start=4,
    anchors=(
        Anchor(value=1, label="Clearly absent or undermined"),
        Anchor(value=4, label="No evidence either way"),
        Anchor(value=7, label="Clearly and consistently present"),
    ),
)


def _item(key: str, label: str, help: str, subscale: str) -> Item:
    return Item(key=key, label=label, help=help, scale=SCALE, subscale=subscale)


ALLIANCE = Rubric(
    key="alliance",
    version="1.0",
    title="Therapeutic alliance (supervise seed rubric)",
    description="Observer rating of rapport, trust, collaboration, respect and flexible partnership in one "
    "session. 1-7 per item, starting at 4 (no evidence either way).",
    citation="supervise project, Alliance rubric 1.0 (2026). Informed by Bordin's working alliance "
    "(goals, tasks, bond).",
    licence="Apache-2.0: labels, help texts and scoring may be copied and adapted.",
    manual_version="1.0",
    rater_roles=("supervisor", "peer", "self"),
    items=(
        _item("rapport", "Rapport", "Ease and attunement between therapist and client.", "bond"),
        _item("trust", "Trust and safety to disclose", "The client risks saying difficult things.", "bond"),
        _item("warmth", "Warmth within boundaries", "Genuine care that stays professional.", "bond"),
        _item("understood", "Client feels understood", "The client's meaning is heard and validated.", "bond"),
        _item("collaboration", "Collaboration", "Shared work on agreed aims, not a lecture.", "partnership"),
        _item("respect", "Mutual respect", "Each treats the other as an equal, without hierarchy.", "partnership"),
        _item(
            "empowerment",
            "Client as active participant",
            "The client shapes the work and owns the steps taken.",
            "partnership",
        ),
        _item(
            "flexibility",
            "Flexibility",
            "The approach is tailored to this client rather than applied rigidly.",
            "responsiveness",
        ),
    ),
    subscales=(
        Subscale(key="bond", label="Bond", items=("rapport", "trust", "warmth", "understood")),
        Subscale(key="partnership", label="Partnership", items=("collaboration", "respect", "empowerment")),
        Subscale(key="responsiveness", label="Responsiveness", items=("flexibility",)),
    ),
    total="mean",
    thresholds=(
        Threshold(
            key="below_neutral",
            target="total",
            op="lt",
            value=4,
            severity="warning",
            message="The alliance overall was rated below the neutral point.",
            source="supervise Alliance rubric 1.0: neutral-point convention, not a validated cutoff",
        ),
        Threshold(
            key="item_strained",
            target="*",
            op="le",
            value=2,
            severity="info",
            message="At least one quality of the alliance was rated 2 or lower: worth discussing.",
            source="supervise Alliance rubric 1.0: supervision prompt, not a validated cutoff",
        ),
    ),
)


ALLIANCE_1_1 = dataclasses.replace(
    ALLIANCE,
    version="1.1",
    manual_version="1.1",
    change_rules=(
        ChangeRule(
            key="total_fell_share",
            target="total",
            drop_share_over=0.15,
            severity="warning",
            message="The alliance total fell by more than 15% of its range (0.9 points) since this rater's "
            "previous session of the case: worth discussing.",
            source="supervise Alliance rubric 1.1: the rupture convention of the case trajectory (a fall of more "
            "than 15% of the range), not a validated cutoff",
        ),
    ),
)


@hookimpl
def supervise_rubrics() -> list[Rubric]:
    return [ALLIANCE, ALLIANCE_1_1]  # 1.0 stays: reviews made with it keep it
