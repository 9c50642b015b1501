"""Working Alliance Inventory, observer short form (WAI-O-S): structure and scoring only.

Twelve items rated by an observer on a 1-7 evidence scale; every item starts at 4 ("no evidence either way"),
as the WAI-O manual (Revision IV, 2000) prescribes. Subscales Goal, Task and Bond have four items each. The
negatively keyed items are rated as worded (7 = strong evidence of the problem) and reverse scored 8 - x.
Scores: subscale means and the total mean (standard scoring), plus the matching sums.

Not confirmed against the official form, kept as data so they are easy to correct (marked "check" in
/work/shared/INSTRUMENTS.md): which items are negatively keyed (:data:`REVERSE_KEYED_ITEMS`), and which item
numbers belong to which subscale (:data:`ITEMS`, laid out like the client short form WAI-S; the observer
short form's own key is to be checked). The labels are our own short paraphrases of each item's theme, never
the published wording, which is copyrighted by the Society for Psychotherapy Research.

No clinical cutoff is published, so the rubric declares no thresholds: the actionable signal is a drop
between consecutive sessions of a case, which the host's aggregates compute across sessions.
"""

from __future__ import annotations

from dataclasses import replace

from supervise.rubrics import (
    Anchor,
    Item,
    OrdinalScale,
    Responses,
    Result,
    Rubric,
    ScoreSpec,
    Subscale,
    hookimpl,
    standard_scoring,
)

__all__ = ["ITEMS", "REVERSE_KEYED_ITEMS", "SUBSCALES", "WAI_O_S", "score_wai_o_s", "supervise_rubrics"]

SCALE = OrdinalScale(
    min=1,
    max=7,
    start=4,
    anchors=(
        Anchor(value=1, label="Strong evidence against"),
        Anchor(value=4, label="No evidence either way"),
        Anchor(value=7, label="Strong evidence for"),
    ),
)

REVERSE_KEYED_ITEMS: tuple[str, ...] = ("item_04", "item_10")
"""The negatively keyed items, reverse scored as 8 - x (check: not confirmed against the official form)."""

SUBSCALES: tuple[tuple[str, str], ...] = (("goal", "Goal"), ("task", "Task"), ("bond", "Bond"))

ITEMS: tuple[tuple[str, str, str, str], ...] = (
    # (key, subscale, paraphrased label, help in our own words). Subscale membership: check.
    (
        "item_01",
        "task",
        "Agreement on what the client will do",
        "Both accept the steps the client is to take in and between sessions.",
    ),
    (
        "item_02",
        "task",
        "The work opens new perspectives",
        "The client finds fresh ways of seeing the problem through what is done in session.",
    ),
    (
        "item_03",
        "bond",
        "Mutual liking",
        "Signs that therapist and client like each other.",
    ),
    (
        "item_04",
        "goal",
        "Therapist misreads the client's aims (negatively keyed)",
        "Rate the evidence FOR a misunderstanding of what the client wants from therapy (7 = strong "
        "evidence of it); scoring reverses the rating.",
    ),
    (
        "item_05",
        "bond",
        "Client's confidence in the therapist",
        "The client trusts that this therapist is able to help.",
    ),
    (
        "item_06",
        "goal",
        "Working toward agreed goals",
        "The session pursues aims both have accepted.",
    ),
    (
        "item_07",
        "bond",
        "Client feels appreciated",
        "The therapist shows that the client is valued.",
    ),
    (
        "item_08",
        "goal",
        "Agreement on what matters most",
        "Both see the same issues as the important ones to work on.",
    ),
    (
        "item_09",
        "bond",
        "Mutual trust",
        "Each relies on the other's good faith.",
    ),
    (
        "item_10",
        "task",
        "Differing views of the problem (negatively keyed)",
        "Rate the evidence FOR therapist and client seeing the client's difficulties differently (7 = strong "
        "evidence of it); scoring reverses the rating.",
    ),
    (
        "item_11",
        "goal",
        "Shared picture of the change sought",
        "Both understand which changes would be good for the client.",
    ),
    (
        "item_12",
        "task",
        "Confidence in the way of working",
        "The client accepts the way the problem is being worked on as the right one.",
    ),
)

SUM_SCORES: tuple[ScoreSpec, ...] = (
    *(
        ScoreSpec(
            key=f"{key}_sum",
            label=f"{label} (sum)",
            description=f"Sum of the {label} items after reverse keying; null unless all of them are answered.",
            min=SCALE.min * sum(1 for row in ITEMS if row[1] == key),
            max=SCALE.max * sum(1 for row in ITEMS if row[1] == key),
        )
        for key, label in SUBSCALES
    ),
    ScoreSpec(
        key="total_sum",
        label="Total (sum)",
        description="Sum of all items after reverse keying; null unless every item is answered.",
        min=SCALE.min * len(ITEMS),
        max=SCALE.max * len(ITEMS),
    ),
)


def _summed(rubric: Rubric) -> Rubric:
    """The same rubric with every subscale and the total summed instead of averaged, so the host applies
    reverse keying to the sums exactly as it does to the means."""
    return replace(
        rubric,
        subscales=tuple(Subscale(key=s.key, label=s.label, items=s.items, aggregate="sum") for s in rubric.subscales),
        total="sum",
        scores=(),
        thresholds=(),
        score=None,
    )


def score_wai_o_s(rubric: Rubric, responses: Responses) -> Result:
    """Standard scoring (subscale means, total mean), plus ``<subscale>_sum`` and ``total_sum``. A sum over
    some of its items only would not be comparable, so a sum is null until all its items are answered."""
    result = standard_scoring(rubric, responses)
    sums = standard_scoring(_summed(rubric), responses).scores
    answered = responses.items.keys()
    extra: dict[str, float | None] = {
        f"{s.key}_sum": sums[s.key] if set(s.items) <= answered else None for s in rubric.subscales
    }
    extra["total_sum"] = sums["total"] if {i.key for i in rubric.items} <= answered else None
    return Result(scores={**result.scores, **extra}, flags=result.flags)


WAI_O_S = Rubric(
    key="wai-o-s",
    version="1.0",
    title="Working Alliance Inventory, observer short form (WAI-O-S)",
    description="Observer rating of the working alliance in one session: agreement on goals, agreement on "
    "tasks, and the bond. 12 items on a 1-7 evidence scale, each starting at 4 (no evidence either way). "
    f"Negatively keyed items ({', '.join(REVERSE_KEYED_ITEMS)}; to be checked against the official form) are "
    "rated as worded and reverse scored 8 - x. Scores: goal, task and bond means and the total mean, plus "
    "goal_sum, task_sum, bond_sum (4-28) and total_sum (12-84). No clinical cutoff is published, so no flags "
    "are raised here: the actionable signal is a drop between consecutive sessions of a case, computed by "
    "the aggregates across sessions. Labels are paraphrases, not the published item wording.",
    citation="Horvath, A. O., & Greenberg, L. S. (1989). Development and validation of the Working Alliance "
    "Inventory. Journal of Counseling Psychology, 36(2), 223-233. Tichenor, V., & Hill, C. E. (1989). A "
    "comparison of six measures of working alliance. Psychotherapy, 26(2), 195-199. Tracey, T. J., & "
    "Kokotovic, A. M. (1989). Factor structure of the Working Alliance Inventory. Psychological Assessment, "
    "1(3), 207-210. Darchuk, A., Wang, V., Weibel, D., Fende, J., Anderson, T., & Horvath, A. (2000). Manual "
    "for the Working Alliance Inventory - Observer Form (WAI-O), Revision IV. Ohio University.",
    licence="Structure and scoring only. The WAI item wording is copyrighted (Society for Psychotherapy "
    "Research) and is not shipped: labels and help texts are supervise's own paraphrases. Organisations "
    "holding a licence use the official form for the wording.",
    caveats=(
        f"Which items are negatively keyed ({', '.join(REVERSE_KEYED_ITEMS)}, reverse scored 8 - x) is not "
        "confirmed against a primary source: the observer short form is taken to follow the client short form "
        "WAI-S (Tracey & Kokotovic 1989), whose items 4 and 10 are negatively worded; neither Tichenor & Hill "
        "(1989) nor Andrusyna et al. (2001) could be checked. Verify against the official form before "
        "comparing these scores with published norms.",
        "Which item numbers belong to the Goal, Task and Bond subscales follows the same assumed WAI-S layout "
        "and is not confirmed either.",
    ),
    manual_version="WAI-O manual, Revision IV (2000)",
    rater_roles=("supervisor", "peer"),
    items=tuple(
        Item(
            key=key,
            label=label,
            help=help,
            scale=SCALE,
            subscale=subscale,
            reverse=key in REVERSE_KEYED_ITEMS,
        )
        for key, subscale, label, help in ITEMS
    ),
    subscales=tuple(
        Subscale(key=key, label=label, items=tuple(row[0] for row in ITEMS if row[1] == key))
        for key, label in SUBSCALES
    ),
    total="mean",
    scores=SUM_SCORES,
    thresholds=(),
    score=score_wai_o_s,
)


@hookimpl
def supervise_rubrics() -> list[Rubric]:
    return [WAI_O_S]
