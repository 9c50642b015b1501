"""Cognitive therapy competence: the Cognitive Therapy Rating Scale (CTRS) and its revision, the CTS-R.

Both are observer ratings of one whole session, every item scored 0-6, with no prescribed starting point.

* ``ctrs`` 1.0 -- the 11-item Cognitive Therapy Scale (Young & Beck). Total = sum of the items, 0-66. A total
  of 40 or more is the commonly used competence mark, so a total below 40 raises a warning (source: check).
* ``cts-r`` 1.0 -- the 12-item Revised Cognitive Therapy Scale (Blackburn et al.). Total = sum, 0-72. A common
  pass rule is a total of at least 36 with every item at least 2: a total below 36 raises a warning, and so
  does any item below 2 (a per-item floor, threshold target ``*``).

Item keys and short labels are ours; the scales' item descriptions, rating criteria and anchor text are not
shipped. Facts not confirmed against the official forms are marked "(check)" where they live in the data.
"""

from __future__ import annotations

from supervise.rubrics import Anchor, Item, OrdinalScale, Rubric, Threshold, hookimpl

__all__ = ["CTRS", "CTS_R", "supervise_rubrics"]

CTRS_SCALE = OrdinalScale(
    min=0,
    max=6,
    anchors=(
        Anchor(value=0, label="Poor"),
        Anchor(value=3, label="Satisfactory"),
        Anchor(value=6, label="Excellent"),
    ),
)
CTS_R_SCALE = OrdinalScale(
    min=0,
    max=6,
    anchors=(
        Anchor(value=0, label="Not done or done badly"),
        Anchor(value=3, label="Competent"),
        Anchor(value=6, label="Expert"),
    ),
)


def _item(key: str, label: str, help: str, scale: OrdinalScale) -> Item:
    return Item(key=key, label=label, help=help, scale=scale)


# The 11 CTRS items in form order (names per the Young & Beck scale: check against the licensed form).
CTRS_ITEMS = (
    ("agenda", "Agenda", "A shared, realistic plan for the session is set and followed."),
    ("feedback", "Feedback", "The therapist checks the client's understanding of and reactions to the session."),
    ("understanding", "Understanding", "The therapist grasps and conveys the client's inner experience."),
    (
        "interpersonal_effectiveness",
        "Interpersonal effectiveness",
        "Warmth, genuineness and professionalism that make the client feel safe.",
    ),
    ("collaboration", "Collaboration", "Therapist and client work as a team on problems both think matter."),
    (
        "pacing",
        "Pacing and efficient use of time",
        "The session keeps to a useful structure and time is spent on what matters most.",
    ),
    (
        "guided_discovery",
        "Guided discovery",
        "Questions help the client examine evidence and reach conclusions of their own.",
    ),
    (
        "key_cognitions_behaviours",
        "Focus on key cognitions or behaviours",
        "The work targets the thoughts, beliefs or behaviours most tied to the problem.",
    ),
    (
        "strategy_for_change",
        "Strategy for change",
        "A coherent plan for change that follows from the case conceptualisation.",
    ),
    (
        "application_of_techniques",
        "Application of cognitive-behavioural techniques",
        "The chosen techniques are carried out skilfully and adapted to the client.",
    ),
    ("homework", "Homework", "Between-session work is reviewed and a relevant new task is agreed."),
)

# The 12 CTS-R items in form order (Blackburn et al. 2001; not in INSTRUMENTS.md: check).
CTS_R_ITEMS = (
    ("agenda_setting", "Agenda setting and adherence", "A shared plan is set, followed, and changed only openly."),
    ("feedback", "Feedback", "Two-way checking of understanding and reactions throughout the session."),
    ("collaboration", "Collaboration", "Problems are tackled as a team, with the client's active part."),
    (
        "pacing",
        "Pacing and efficient use of time",
        "Structure and speed suit the client; time goes to what matters most.",
    ),
    (
        "interpersonal_effectiveness",
        "Interpersonal effectiveness",
        "Warmth, genuineness and understanding that build trust.",
    ),
    (
        "emotional_expression",
        "Eliciting appropriate emotional expression",
        "The client is helped to access and express feelings at a useful intensity.",
    ),
    ("key_cognitions", "Eliciting key cognitions", "The thoughts and beliefs that drive the problem are brought out."),
    ("behaviours", "Eliciting behaviours", "Problem behaviours and their consequences are identified and examined."),
    ("guided_discovery", "Guided discovery", "Questioning lets the client find alternative views for themselves."),
    (
        "conceptual_integration",
        "Conceptual integration",
        "A shared formulation links past and present and guides the interventions.",
    ),
    (
        "change_methods",
        "Application of change methods",
        "Cognitive and behavioural methods chosen and used skilfully.",
    ),
    ("homework_setting", "Homework setting", "A clear, relevant between-session task is agreed and its aim explained."),
)

CTRS = Rubric(
    key="ctrs",
    version="1.0",
    title="Cognitive Therapy Rating Scale (CTRS)",
    description="Observer rating of a therapist's competence in cognitive therapy in one whole session: 11 items, "
    "each 0-6 (no prescribed starting point). Total = sum of the items, 0-66; a total below 40 is flagged "
    "(40 is the commonly used competence mark: check source).",
    citation="Young, J. E., & Beck, A. T. (1980). Cognitive Therapy Scale: Rating Manual. Unpublished "
    "manuscript, University of Pennsylvania, Philadelphia, PA; 11-item version revised 1988 (check).",
    licence="Structure only: item keys, short paraphrased labels and help texts of our own, scale range, scoring "
    "and thresholds, with citation. The scale's item descriptions and anchor text are not reproduced; a "
    "licensed organisation may load its own wording (copyright and terms: check).",
    manual_version="Young & Beck 1988 (11 items) (check)",
    rater_roles=("supervisor", "peer"),
    items=tuple(_item(key, label, help, CTRS_SCALE) for key, label, help in CTRS_ITEMS),
    subscales=(),
    total="sum",
    thresholds=(
        Threshold(
            key="below_competent",
            target="total",
            op="lt",
            value=40,
            severity="warning",
            message="Total below 40, the commonly used mark of competence in cognitive therapy.",
            source="Competence cut-off of 40 commonly used with the CTRS, e.g. for Academy of Cognitive Therapy "
            "certification (check)",
        ),
    ),
)

CTS_R = Rubric(
    key="cts-r",
    version="1.0",
    title="Revised Cognitive Therapy Scale (CTS-R)",
    description="Observer rating of a therapist's competence in cognitive therapy in one whole session: 12 items, "
    "each 0-6 (no prescribed starting point). Total = sum of the items, 0-72. Flags: a total below 36, and any "
    "item below 2 (a common pass rule is total 36 or more with every item at least 2: check source).",
    citation="Blackburn, I.-M., James, I. A., Milne, D. L., Baker, C., Standart, S., Garland, A., & Reichelt, "
    "F. K. (2001). The Revised Cognitive Therapy Scale (CTS-R): Psychometric properties. Behavioural and "
    "Cognitive Psychotherapy, 29(4), 431-446. Manual: James, I. A., Blackburn, I.-M., & Reichelt, F. K. "
    "(2001). Manual of the Revised Cognitive Therapy Scale (CTS-R). Newcastle upon Tyne (check).",
    licence="Structure only: item keys, short paraphrased labels and help texts of our own, scale range, scoring "
    "and thresholds, with citation. The scale's key features, rating criteria and examples are not "
    "reproduced; a licensed organisation may load its own wording (copyright and terms: check).",
    manual_version="2001 (check)",
    rater_roles=("supervisor", "peer"),
    items=tuple(_item(key, label, help, CTS_R_SCALE) for key, label, help in CTS_R_ITEMS),
    subscales=(),
    total="sum",
    thresholds=(
        Threshold(
            key="below_pass_total",
            target="total",
            op="lt",
            value=36,
            severity="warning",
            message="Total below 36, short of the commonly used pass mark.",
            source="Common CTS-R pass rule: total of at least 36 (check)",
        ),
        Threshold(
            key="item_below_floor",
            target="*",
            op="lt",
            value=2,
            severity="warning",
            message="At least one item was rated below 2, short of the commonly used per-item floor.",
            source="Common CTS-R pass rule: every item at least 2 (check)",
        ),
    ),
)


@hookimpl
def supervise_rubrics() -> list[Rubric]:
    return [CTRS, CTS_R]
