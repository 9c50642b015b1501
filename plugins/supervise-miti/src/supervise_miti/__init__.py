"""MITI 4.2.1: the Motivational Interviewing Treatment Integrity code, structure and scoring only.

An observer codes one 20-minute segment of a session (the manual's unit; the coder is told the change goal
first). Four global ratings, 1-5, start at 3: cultivating change talk, softening sustain talk, partnership and
empathy. Ten clinician behaviours are tallied as whole-number counts over the segment.

Summary scores (computed by :func:`score`, after :func:`standard_scoring`):

* ``technical`` = (cultivating change talk + softening sustain talk) / 2, 1-5
* ``relational`` = (partnership + empathy) / 2, 1-5
* ``pct_cr`` = 100 * complex reflections / (simple + complex reflections): a **percent**, 0-100, so that the
  thresholds read as the manual's (40 and 50)
* ``r_q`` = (simple + complex reflections) / questions, 0 or more
* ``mi_adherent`` = seeking collaboration + affirm + emphasizing autonomy
* ``mi_non_adherent`` = confront + persuade (persuade with permission is not counted)

A ratio whose denominator is 0 is undefined: ``None``, never 0 or infinity, and it raises no flag.

Thresholds are the manual's expert-opinion levels: below "fair" is a warning, below "good" is informational.
Both are separate thresholds, so a score below fair raises both flags.

Labels and help texts are our own paraphrases; the manual's definitions, anchors and examples are not shipped.
"""

from __future__ import annotations

from supervise.rubrics import (
    Anchor,
    CountScale,
    Item,
    OrdinalScale,
    Responses,
    Result,
    Rubric,
    ScoreSpec,
    Threshold,
    hookimpl,
    standard_scoring,
)

__all__ = ["MITI", "score", "supervise_rubrics"]

CCT = "cultivating_change_talk"
SST = "softening_sustain_talk"
PARTNERSHIP = "partnership"
EMPATHY = "empathy"
GI = "giving_information"
PERSUADE = "persuade"
PERSUADE_WITH = "persuade_with_permission"
QUESTION = "question"
SR = "simple_reflection"
CR = "complex_reflection"
AFFIRM = "affirm"
SEEK = "seeking_collaboration"
EMPHASIZE = "emphasizing_autonomy"
CONFRONT = "confront"

GLOBAL_SCALE = OrdinalScale(
    min=1,
    max=5,
    start=3,
    anchors=(
        Anchor(value=1, label="Low"),
        Anchor(value=3, label="Starting point"),
        Anchor(value=5, label="High"),
    ),
)
COUNT = CountScale()

SOURCE = (
    "MITI 4.2.1 manual (Moyers, Manuel & Ernst), summary-score thresholds for fair and good proficiency, "
    "based on expert opinion"
)


def _global(key: str, label: str, help: str) -> Item:
    return Item(key=key, label=label, help=help, scale=GLOBAL_SCALE)


def _count(key: str, label: str, help: str) -> Item:
    return Item(key=key, label=label, help=f"{help} Tally over the coded segment.", scale=COUNT)


def _below(key: str, target: str, value: float, level: str, shown: str, unit: str = "") -> Threshold:
    warning = level == "fair"
    return Threshold(
        key=f"{key}_below_{level}",
        target=target,
        op="lt",
        value=value,
        severity="warning" if warning else "info",
        message=f"{shown} is below the manual's '{level}' level ({value:g}{unit}).",
        source=SOURCE,
    )


def _number(responses: Responses, key: str) -> float | None:
    value = responses.items.get(key)
    return None if value is None else float(value)


def _mean(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else (a + b) / 2


def _sum(*values: float | None) -> float | None:
    present = [v for v in values if v is not None]
    return float(sum(present)) if len(present) == len(values) else None


def score(rubric: Rubric, responses: Responses) -> Result:
    """Standard scoring (no subscales or total here), then the MITI summary scores, then every threshold.

    A summary score whose inputs are missing (a partial draft) is ``None``, like a ratio over zero.
    """
    n = {item.key: _number(responses, item.key) for item in rubric.items}
    reflections = _sum(n[SR], n[CR])
    scores: dict[str, float | None] = {}
    scores["technical"] = _mean(n[CCT], n[SST])
    scores["relational"] = _mean(n[PARTNERSHIP], n[EMPATHY])
    cr = n[CR]
    # 100 * CR / (SR + CR) rather than CR / (SR + CR) * 100: exact at the cuts (2 of 5 is exactly 40.0).
    scores["pct_cr"] = None if cr is None or not reflections else 100 * cr / reflections
    question = n[QUESTION]
    scores["r_q"] = None if reflections is None or not question else reflections / question
    scores["mi_adherent"] = _sum(n[SEEK], n[AFFIRM], n[EMPHASIZE])
    scores["mi_non_adherent"] = _sum(n[CONFRONT], n[PERSUADE])
    return standard_scoring(rubric, responses, extra=scores)


MITI = Rubric(
    key="miti",
    version="4.2.1",
    title="Motivational Interviewing Treatment Integrity (MITI 4.2.1)",
    description="Observer coding of motivational interviewing. The manual codes a 20-minute segment of the "
    "session, not the whole session, and the coder is told the change goal before coding; supervise stores the "
    "coding against the session (record which 20 minutes and the change goal in the review's notes). Four "
    "global ratings 1-5, starting at 3, and ten behaviour counts over the segment. Summary scores: Technical "
    "and Relational (means of two globals, 1-5), % complex reflections (a percent, 0-100), reflection-to-"
    "question ratio, MI-adherent and MI-non-adherent totals. Ratios over zero are undefined (null).",
    citation="Moyers, T. B., Manuel, J. K., & Ernst, D. (2014). Motivational Interviewing Treatment Integrity "
    "Coding Manual 4.2.1. Unpublished manual. Validation: Moyers, T. B., Rowell, L. N., Manuel, J. K., Ernst, "
    "D., & Houck, J. M. (2016). The Motivational Interviewing Treatment Integrity Code (MITI 4): Rationale, "
    "preliminary reliability and validity. Journal of Substance Abuse Treatment, 65, 36-42.",
    licence="Structure only: item keys, short paraphrased labels and help texts of our own, scoring formulas "
    "and thresholds, with citation (the manual allows its globals and counts to be used and adapted with "
    "citation). The manual's definitions, anchor descriptions and coding examples are not reproduced.",
    manual_version="4.2.1",
    rater_roles=("supervisor", "peer"),
    items=(
        _global(
            CCT,
            "Cultivating change talk",
            "How actively the clinician draws out and strengthens the client's own reasons, desire and confidence "
            "for the change goal.",
        ),
        _global(
            SST,
            "Softening sustain talk",
            "How far the clinician avoids deepening the client's arguments for the status quo and gently turns "
            "away from them.",
        ),
        _global(
            PARTNERSHIP,
            "Partnership",
            "The conversation is shared work: the clinician draws on the client's expertise instead of acting as "
            "the authority.",
        ),
        _global(
            EMPATHY,
            "Empathy",
            "How much the clinician tries to grasp, and shows they grasp, the client's point of view and feelings.",
        ),
        _count(GI, "Giving information", "Facts, feedback or explanations offered without trying to persuade."),
        _count(
            PERSUADE,
            "Persuade",
            "Trying to shift the client's views or actions by argument, advice or warning, without permission.",
        ),
        _count(
            PERSUADE_WITH,
            "Persuade with permission",
            "Persuasion offered after the client agreed to hear it, or framed so the client is free to set it aside.",
        ),
        _count(QUESTION, "Question", "Every question the clinician asks, open or closed."),
        _count(SR, "Simple reflection", "Mirrors what the client said, adding little or no new meaning."),
        _count(CR, "Complex reflection", "Mirrors the client while adding meaning, emphasis or a fresh angle."),
        _count(AFFIRM, "Affirm", "Sincere recognition of a strength, effort or value of the client."),
        _count(
            SEEK,
            "Seeking collaboration",
            "Explicitly asks for the client's ideas, input or agreement, or for permission.",
        ),
        _count(EMPHASIZE, "Emphasizing autonomy", "Puts the choice and the responsibility for it with the client."),
        _count(
            CONFRONT,
            "Confront",
            "Takes a stance against the client: arguing, criticising, shaming, moralising or disputing.",
        ),
    ),
    subscales=(),
    total=None,
    scores=(
        ScoreSpec(
            key="technical",
            label="Technical global",
            description="(Cultivating change talk + Softening sustain talk) / 2.",
            min=1,
            max=5,
        ),
        ScoreSpec(
            key="relational",
            label="Relational global",
            description="(Partnership + Empathy) / 2.",
            min=1,
            max=5,
        ),
        ScoreSpec(
            key="pct_cr",
            label="% complex reflections",
            description="100 * complex / (simple + complex reflections), a percent from 0 to 100; null when no "
            "reflections were coded.",
            min=0,
            max=100,
        ),
        ScoreSpec(
            key="r_q",
            label="Reflection-to-question ratio",
            description="(Simple + complex reflections) / questions; null when no questions were coded.",
            min=0,
            max=None,
        ),
        ScoreSpec(
            key="mi_adherent",
            label="Total MI-adherent",
            description="Seeking collaboration + Affirm + Emphasizing autonomy.",
            min=0,
            max=None,
        ),
        ScoreSpec(
            key="mi_non_adherent",
            label="Total MI-non-adherent",
            description="Confront + Persuade (persuade with permission is not counted).",
            min=0,
            max=None,
        ),
    ),
    thresholds=(
        _below("relational", "relational", 3.5, "fair", "Relational"),
        _below("relational", "relational", 4, "good", "Relational"),
        _below("technical", "technical", 3, "fair", "Technical"),
        _below("technical", "technical", 4, "good", "Technical"),
        _below("pct_cr", "pct_cr", 40, "fair", "% complex reflections", "%"),
        _below("pct_cr", "pct_cr", 50, "good", "% complex reflections", "%"),
        _below("r_q", "r_q", 1, "fair", "Reflection-to-question ratio"),
        _below("r_q", "r_q", 2, "good", "Reflection-to-question ratio"),
    ),
    score=score,
)


@hookimpl
def supervise_rubrics() -> list[Rubric]:
    return [MITI]
