"""Working Alliance Inventory, short revised (WAI-SR; Hatcher & Gillaspy, 2006): structure and scoring only.

Twelve items the client rates on a 1-5 scale. Subscales (by item number): Task 1, 2, 10, 12; Bond 3, 5, 7, 9;
Goal 4, 6, 8, 11. No item is reverse keyed. Scores are the subscale means and the total mean (standard
scoring); no thresholds. Item keys ``item_01`` ... ``item_12`` follow the form's numbering. The labels are our
own short paraphrases of each item's theme, never the published wording, which is copyrighted (Society for
Psychotherapy Research).
"""

from __future__ import annotations

from supervise.rubrics import Anchor, Item, OrdinalScale, Rubric, Subscale, hookimpl

__all__ = ["ITEMS", "SUBSCALES", "WAI_SR", "supervise_rubrics"]

SCALE = OrdinalScale(
    min=1,
    max=5,
    anchors=(
        Anchor(value=1, label="Hardly ever"),
        Anchor(value=5, label="All the time"),
    ),
)

SUBSCALES: tuple[tuple[str, str], ...] = (("task", "Task"), ("bond", "Bond"), ("goal", "Goal"))

ITEMS: tuple[tuple[str, str, str], ...] = (
    # (key, subscale, paraphrased label)
    ("item_01", "task", "Clearer how change could happen"),
    ("item_02", "task", "The work gives new ways to see the problem"),
    ("item_03", "bond", "Feels liked by the therapist"),
    ("item_04", "goal", "Goals are set together"),
    ("item_05", "bond", "Mutual respect"),
    ("item_06", "goal", "Working toward shared goals"),
    ("item_07", "bond", "Feels appreciated"),
    ("item_08", "goal", "Agreement on what matters to work on"),
    ("item_09", "bond", "Care holds through disagreement"),
    ("item_10", "task", "What is done in therapy will bring the wanted change"),
    ("item_11", "goal", "Shared picture of the change sought"),
    ("item_12", "task", "Confidence in how the problem is tackled"),
)

WAI_SR = Rubric(
    key="wai-sr",
    version="1.0",
    title="Working Alliance Inventory, short revised (WAI-SR)",
    description="Client rating of the working alliance after a session: agreement on tasks, the bond, and "
    "agreement on goals. 12 items rated 1-5, none reverse keyed. Scores: task, bond and goal means and the "
    "total mean (each 1-5). Labels are paraphrases, not the published item wording.",
    citation="Hatcher, R. L., & Gillaspy, J. A. (2006). Development and validation of a revised short version "
    "of the Working Alliance Inventory. Psychotherapy Research, 16(1), 12-25. Based on Horvath, A. O., & "
    "Greenberg, L. S. (1989). Development and validation of the Working Alliance Inventory. Journal of "
    "Counseling Psychology, 36(2), 223-233.",
    licence="Structure and scoring only. The WAI-SR item wording is copyrighted (Society for Psychotherapy "
    "Research) and is not shipped: labels are supervise's own paraphrases. Organisations holding a licence "
    "use the official form for the wording.",
    manual_version="Hatcher & Gillaspy (2006)",
    rater_roles=("client",),
    items=tuple(Item(key=key, label=label, scale=SCALE, subscale=subscale) for key, subscale, label in ITEMS),
    subscales=tuple(
        Subscale(key=key, label=label, items=tuple(row[0] for row in ITEMS if row[1] == key))
        for key, label in SUBSCALES
    ),
    total="mean",
)


@hookimpl
def supervise_rubrics() -> list[Rubric]:
    return [WAI_SR]
