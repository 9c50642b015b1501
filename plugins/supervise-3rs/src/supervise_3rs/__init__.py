"""The Rupture Resolution Rating System (3RS), 2015 manual: observer coding of alliance ruptures by segment.

Structure only. The 3RS manual's marker definitions and anchor wording are the authors' copyright and are not
shipped: keys, short paraphrased labels, help texts in our own words, scales and scoring are. Facts not
confirmed against the official manual are marked "check" and kept as data (the tuples below) so they are
easy to correct; correcting them means a new rubric version.

How a session is coded
    The recording is cut into segments (5 minutes in the 2015 manual; raters may use other lengths and each
    segment's actual ``start_ms``/``end_ms`` is recorded). In every segment the rater marks each withdrawal
    and each confrontation marker present or absent, rates how significant the withdrawal and the
    confrontation ruptures were (1-5, only when such a marker occurred) and marks the resolution strategies
    the therapist used. Once per session the rater rates the therapist's contribution to ruptures (1-5) and
    the extent to which ruptures were resolved (1-5).

Decisions (ours, not the manual's)
    * Marker items are *required*: every segment states each marker present or absent, so "no rupture" is an
      explicit answer rather than an omission. Missing markers (drafts) are read as absent by scoring.
    * Significance and resolution-strategy items are optional: they only apply when a marker occurred, and a
      missing strategy is read as "not used".
    * The session items are required (the contract cannot say "required only when a rupture was coded");
      when no rupture was coded they carry no information: scoring calls them not applicable
      (``Result.not_applicable``), so the host files no score for them and they stay out of series and
      reliability, instead of counting a meaningless 5 or 1.
    * A significance rating in a segment without a marker of its kind is accepted (the contract's
      ``Rubric.validate`` cannot express cross-item rules) and *ignored* by the roll-ups.
    * A segment with a marker but no significance rating counts as a rupture segment; the significance
      maximum and mean are taken over the segments that have both.
    * ``unresolved_confrontation`` is 1 when a confrontation marker occurred in any segment and
      ``resolution_extent`` <= :data:`UNRESOLVED_AT_MOST` (2: resolution rated below the scale's midpoint).
      That cut is a supervise convention, not a published cutoff; it is written into the score's
      description so the rubric's checksum changes with it.
"""

from __future__ import annotations

from typing import NamedTuple

from supervise.rubrics import (
    Anchor,
    BooleanScale,
    Item,
    OrdinalScale,
    Responses,
    Result,
    Rubric,
    ScoreSpec,
    SegmentResponses,
    Threshold,
    hookimpl,
    standard_scoring,
)

__all__ = [
    "CONFRONTATION_MARKERS",
    "RESOLUTION_STRATEGIES",
    "SEGMENT_MS",
    "SESSION_ITEMS_ON_RUPTURES",
    "THREE_RS",
    "UNRESOLVED_AT_MOST",
    "WITHDRAWAL_MARKERS",
    "Code",
    "score_3rs",
    "supervise_rubrics",
]


class Code(NamedTuple):
    """One yes/no code of a segment: stable item key, short paraphrased label, our own help text."""

    key: str
    label: str
    help: str


SEGMENT_MS = 300_000
"""Segment length of the 2015 manual (5 minutes)."""

UNRESOLVED_AT_MOST = 2
"""A confrontation counts as unresolved when ``resolution_extent`` is at most this (supervise convention)."""

# Withdrawal markers of the 2015 manual (list: check). The client moves away from the therapist or the work.
WITHDRAWAL_MARKERS: tuple[Code, ...] = (
    Code("withdrawal_denial", "Denial", "Says a feeling or difficulty is not there when it plainly is."),
    Code("withdrawal_minimal_response", "Minimal response", "Short, closed answers that stop the exchange."),
    Code("withdrawal_abstract", "Abstract communication", "Vague, intellectual talk that keeps experience away."),
    Code(
        "withdrawal_avoidant_storytelling",
        "Avoidant storytelling or topic shift",
        "Long stories or a change of subject that steer away from the work.",
    ),
    Code("withdrawal_deferential", "Deferential or appeasing", "Goes along or placates instead of engaging."),
    Code(
        "withdrawal_content_affect_split",
        "Content-affect split",
        "What is said and how it is said do not match.",
    ),
    Code(
        "withdrawal_self_criticism",
        "Self-criticism or hopelessness",
        "Turns on self or gives up in a way that shuts the work down.",
    ),
)

# Confrontation markers of the 2015 manual (list: check). The client moves against the therapist or the work.
CONFRONTATION_MARKERS: tuple[Code, ...] = (
    Code(
        "confrontation_complaint_therapist",
        "Complaint about the therapist",
        "Criticism of the therapist as a person or professional.",
    ),
    Code(
        "confrontation_rejects_intervention",
        "Rejects an intervention",
        "Dismisses or refuses what the therapist offers.",
    ),
    Code(
        "confrontation_complaint_activities",
        "Complaint about therapy activities",
        "Objects to the tasks or methods of the therapy.",
    ),
    Code(
        "confrontation_complaint_parameters",
        "Complaint about therapy parameters",
        "Objects to the frame: scheduling, length, rules, fees.",
    ),
    Code(
        "confrontation_complaint_progress",
        "Complaint about progress",
        "Objects that therapy is not helping or moving too slowly.",
    ),
    Code(
        "confrontation_defends_self",
        "Defends self against the therapist",
        "Justifies or protects self as if under attack.",
    ),
    Code(
        "confrontation_controls_therapist",
        "Tries to control or pressure the therapist",
        "Attempts to direct, push or corner the therapist.",
    ),
)

# A small paraphrased subset of therapist resolution strategies (our selection; names: check).
RESOLUTION_STRATEGIES: tuple[Code, ...] = (
    Code("strategy_clarify", "Clarifies a misunderstanding", "Checks and corrects what was misheard or misread."),
    Code("strategy_adjust_task", "Adjusts the task or goal", "Changes what the two are working on or how."),
    Code("strategy_explain_rationale", "Explains the task or its rationale", "Says why the work is done this way."),
    Code(
        "strategy_invite_exploration",
        "Invites talk about the rupture",
        "Opens the client's thoughts and feelings about the therapist or the therapy.",
    ),
    Code(
        "strategy_acknowledge_contribution",
        "Acknowledges own part",
        "The therapist owns their share in what went wrong.",
    ),
    Code(
        "strategy_link_pattern",
        "Links to wider relational patterns",
        "Connects the rupture with how the client relates in or outside therapy.",
    ),
)

SIGNIFICANCE = OrdinalScale(
    min=1,
    max=5,
    anchors=(
        Anchor(value=1, label="Barely noticeable"),
        Anchor(value=3, label="Clearly affects the exchange"),
        Anchor(value=5, label="Dominates the segment"),
    ),
)
CONTRIBUTION = OrdinalScale(
    min=1,
    max=5,
    anchors=(
        Anchor(value=1, label="Little or none"),
        Anchor(value=3, label="Some"),
        Anchor(value=5, label="A great deal"),
    ),
)
RESOLUTION = OrdinalScale(
    min=1,
    max=5,
    anchors=(
        Anchor(value=1, label="Not resolved"),
        Anchor(value=3, label="Partly resolved"),
        Anchor(value=5, label="Fully resolved"),
    ),
)


def _flag_item(code: Code, *, required: bool) -> Item:
    return Item(
        key=code.key, label=code.label, help=code.help, scale=BooleanScale(), level="segment", required=required
    )


SEGMENT_ITEMS: tuple[Item, ...] = (
    *(_flag_item(code, required=True) for code in WITHDRAWAL_MARKERS),
    Item(
        key="withdrawal_significance",
        label="Significance of withdrawal",
        help="How much the withdrawal in this segment affected the work. Rate only when a withdrawal marker occurred.",
        scale=SIGNIFICANCE,
        level="segment",
        required=False,
    ),
    *(_flag_item(code, required=True) for code in CONFRONTATION_MARKERS),
    Item(
        key="confrontation_significance",
        label="Significance of confrontation",
        help="How much the confrontation in this segment affected the work. Rate only when a confrontation "
        "marker occurred.",
        scale=SIGNIFICANCE,
        level="segment",
        required=False,
    ),
    *(_flag_item(code, required=False) for code in RESOLUTION_STRATEGIES),
)

SESSION_ITEMS: tuple[Item, ...] = (
    Item(
        key="therapist_contribution",
        label="Therapist contribution to ruptures",
        help="How far the therapist's own behaviour brought about or kept up the ruptures seen. Carries no "
        "information when no rupture was coded.",
        scale=CONTRIBUTION,
    ),
    Item(
        key="resolution_extent",
        label="Extent of resolution",
        help="How far the ruptures seen in the session were worked through by its end. Carries no information "
        "when no rupture was coded.",
        scale=RESOLUTION,
    ),
)


def _count(segment: SegmentResponses, codes: tuple[Code, ...]) -> int:
    return sum(1 for code in codes if segment.items.get(code.key) is True)


def _roll_up(
    segments: tuple[SegmentResponses, ...], codes: tuple[Code, ...], significance: str
) -> dict[str, float | None]:
    kind = significance.removesuffix("_significance")
    counts = [_count(segment, codes) for segment in segments]
    rated = [
        float(value)
        for segment, count in zip(segments, counts, strict=True)
        if count and (value := segment.items.get(significance)) is not None
    ]
    return {
        f"{kind}_segments": float(sum(1 for count in counts if count)),
        f"{kind}_markers": float(sum(counts)),
        f"{significance}_max": max(rated) if rated else None,
        f"{significance}_mean": sum(rated) / len(rated) if rated else None,
    }


SESSION_ITEMS_ON_RUPTURES = ("therapist_contribution", "resolution_extent")
"""Session items that rate the session's ruptures: without one they carry no information."""


def score_3rs(rubric: Rubric, responses: Responses) -> Result:
    """The segment roll-ups, handed to :func:`standard_scoring`, which adds them and applies the thresholds."""
    scores: dict[str, float | None] = {}
    segments = responses.segments
    scores.update(_roll_up(segments, WITHDRAWAL_MARKERS, "withdrawal_significance"))
    scores.update(_roll_up(segments, CONFRONTATION_MARKERS, "confrontation_significance"))
    markers = (*WITHDRAWAL_MARKERS, *CONFRONTATION_MARKERS)
    scores["segments"] = float(len(segments))
    scores["rupture_segments"] = float(sum(1 for segment in segments if _count(segment, markers)))
    resolution = responses.items.get("resolution_extent")
    if not scores["confrontation_segments"]:
        scores["unresolved_confrontation"] = 0.0
    elif resolution is None:
        scores["unresolved_confrontation"] = None  # undefined until resolution is rated (drafts)
    else:
        scores["unresolved_confrontation"] = 1.0 if resolution <= UNRESOLVED_AT_MOST else 0.0
    result = standard_scoring(rubric, responses, extra=scores)
    if not scores["rupture_segments"]:  # no rupture coded: contribution and resolution rate nothing
        return Result(scores=result.scores, flags=result.flags, not_applicable=SESSION_ITEMS_ON_RUPTURES)
    return result


def _counts(key: str, label: str, description: str) -> ScoreSpec:
    return ScoreSpec(key=key, label=label, description=description, min=0, max=None)


def _significance(key: str, label: str, description: str) -> ScoreSpec:
    return ScoreSpec(key=key, label=label, description=description, min=1, max=5)


SCORES: tuple[ScoreSpec, ...] = (
    _counts("segments", "Segments coded", "Number of segments rated in the session."),
    _counts("rupture_segments", "Segments with a rupture", "Segments with any withdrawal or confrontation marker."),
    _counts("withdrawal_segments", "Segments with withdrawal", "Segments with at least one withdrawal marker."),
    _counts(
        "confrontation_segments", "Segments with confrontation", "Segments with at least one confrontation marker."
    ),
    _counts("withdrawal_markers", "Withdrawal markers", "Withdrawal markers coded, summed over segments."),
    _counts("confrontation_markers", "Confrontation markers", "Confrontation markers coded, summed over segments."),
    _significance(
        "withdrawal_significance_max",
        "Highest withdrawal significance",
        "Over segments with a withdrawal marker and a significance rating; null when there are none.",
    ),
    _significance(
        "withdrawal_significance_mean",
        "Mean withdrawal significance",
        "Over segments with a withdrawal marker and a significance rating; null when there are none.",
    ),
    _significance(
        "confrontation_significance_max",
        "Highest confrontation significance",
        "Over segments with a confrontation marker and a significance rating; null when there are none.",
    ),
    _significance(
        "confrontation_significance_mean",
        "Mean confrontation significance",
        "Over segments with a confrontation marker and a significance rating; null when there are none.",
    ),
    ScoreSpec(
        key="unresolved_confrontation",
        label="Unresolved confrontation",
        description=f"1 when any segment has a confrontation marker and resolution_extent <= {UNRESOLVED_AT_MOST} "
        "(supervise convention), else 0; null when a confrontation was coded but resolution is not yet rated.",
        min=0,
        max=1,
    ),
)

THRESHOLDS: tuple[Threshold, ...] = (
    Threshold(
        key="unresolved_confrontation",
        target="unresolved_confrontation",
        op="ge",
        value=1,
        severity="critical",
        message="A confrontation rupture was coded and was not resolved by the end of the session.",
        source="Eubanks et al. 3RS validation: confrontation markers predicted dropout (as summarised in "
        f"INSTRUMENTS.md; check). The resolution cut (resolution_extent <= {UNRESOLVED_AT_MOST}) is a supervise "
        "convention, not a published cutoff.",
    ),
    Threshold(
        key="rupture_coded",
        target="rupture_segments",
        op="ge",
        value=1,
        severity="info",
        message="At least one alliance rupture was coded in this session: worth discussing in supervision.",
        source="supervise convention: supervision prompt, not a validated cutoff.",
    ),
)

THREE_RS = Rubric(
    key="3rs",
    version="2015.1",
    title="Rupture Resolution Rating System (3RS)",
    description="Observer coding of alliance ruptures from the recording, segment by segment (5-minute segments "
    "in the 2015 manual; other lengths are recorded as rated): withdrawal and confrontation markers, their "
    "significance 1-5 and the resolution strategies used; per session, the therapist's contribution to ruptures "
    "and the extent of resolution, 1-5. Segments roll up into session counts, maxima and means.",
    citation="Eubanks, C. F., Muran, J. C., & Safran, J. D. (2015). Rupture Resolution Rating System (3RS): "
    "Manual. Unpublished manuscript, Mount Sinai Beth Israel Medical Center, New York. Validation: Eubanks, "
    "C. F., Lubitz, J., Muran, J. C., & Safran, J. D. (2019). Rupture Resolution Rating System (3RS): "
    "Development and validation. Psychotherapy Research, 29(3), 306-319.",
    licence="Structure only: item keys, short paraphrased labels, our own help texts, scales and scoring. The "
    "manual's marker definitions and anchor wording are the authors' copyright and are not included; a licensed "
    "clinic may load its own text.",
    manual_version="2015",
    rater_roles=("supervisor", "peer"),
    items=(*SEGMENT_ITEMS, *SESSION_ITEMS),
    total=None,
    unit="segment",
    segment_ms=SEGMENT_MS,
    scores=SCORES,
    thresholds=THRESHOLDS,
    score=score_3rs,
)


@hookimpl
def supervise_rubrics() -> list[Rubric]:
    return [THREE_RS]
