"""The 3RS rubric: the plugin contract, hand-worked segment roll-ups, edge cases and thresholds at the cut."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import supervise_3rs
from supervise_3rs import (
    CONFRONTATION_MARKERS,
    RESOLUTION_STRATEGIES,
    THREE_RS,
    UNRESOLVED_AT_MOST,
    WITHDRAWAL_MARKERS,
    supervise_rubrics,
)

from supervise.rubrics import Responses, SegmentResponses
from supervise.rubrics.model import Value
from supervise.rubrics.registry import load_registry
from supervise.testing import check_rubric

FIVE_MIN = 300_000
W = [code.key for code in WITHDRAWAL_MARKERS]
C = [code.key for code in CONFRONTATION_MARKERS]
MARKERS = W + C


def segment(index: int, *present: str, length: int = FIVE_MIN, **rated: Value) -> SegmentResponses:
    """Segment ``index`` of ``length`` ms with every marker answered: ``present`` true, the rest false."""
    unknown = set(present) - set(MARKERS) - {s.key for s in RESOLUTION_STRATEGIES}
    assert not unknown, unknown
    items: dict[str, Value] = {key: key in present for key in MARKERS}
    items.update({key: True for key in present if key not in MARKERS})
    items.update(rated)
    return SegmentResponses(start_ms=index * FIVE_MIN, end_ms=index * FIVE_MIN + length, items=items)


def session(*segments: SegmentResponses, contribution: int = 3, resolution: int = 3) -> Responses:
    return Responses(items={"therapist_contribution": contribution, "resolution_extent": resolution}, segments=segments)


def codes(responses: Responses) -> list[str]:
    return [flag.code for flag in THREE_RS.run_scoring(responses).flags]


def test_keeps_the_contract() -> None:
    for rubric in supervise_rubrics():
        check_rubric(rubric)


def test_loads_through_the_hook_and_declares_its_entry_point() -> None:
    registry = load_registry(allow=frozenset(), extra=[("3rs", supervise_3rs)])
    assert registry.get("3rs", "2015.1") is THREE_RS
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "supervise-3rs"
    assert pyproject["project"]["entry-points"]["supervise"] == {"3rs": "supervise_3rs"}


def test_declaration() -> None:
    definition = THREE_RS.definition()
    assert (definition.key, definition.version, definition.manual_version) == ("3rs", "2015.1", "2015")
    assert (definition.unit, definition.segment_ms, definition.total) == ("segment", 300_000, None)
    assert definition.rater_roles == ("supervisor", "peer")
    assert len(WITHDRAWAL_MARKERS) == 7
    assert len(CONFRONTATION_MARKERS) == 7
    levels = {item.key: (item.level, item.required) for item in definition.items}
    assert all(levels[key] == ("segment", True) for key in MARKERS)
    assert levels["withdrawal_significance"] == ("segment", False)
    assert levels["confrontation_significance"] == ("segment", False)
    assert all(levels[s.key] == ("segment", False) for s in RESOLUTION_STRATEGIES)
    assert levels["therapist_contribution"] == ("session", True)
    assert levels["resolution_extent"] == ("session", True)
    assert [spec.key for spec in definition.scores] == [
        "segments",
        "rupture_segments",
        "withdrawal_segments",
        "confrontation_segments",
        "withdrawal_markers",
        "confrontation_markers",
        "withdrawal_significance_max",
        "withdrawal_significance_mean",
        "confrontation_significance_max",
        "confrontation_significance_mean",
        "unresolved_confrontation",
    ]
    assert all(t.source.strip() for t in definition.thresholds)
    # Labels stay short paraphrases: no manual wording is shipped.
    assert all(len(item.label) <= 50 for item in definition.items)


def test_hand_worked_roll_up_over_three_segments() -> None:
    responses = session(
        # A 0-5 min: withdrawal x2 (minimal response, abstract), withdrawal significance 2.
        segment(0, "withdrawal_minimal_response", "withdrawal_abstract", withdrawal_significance=2),
        # B 5-10 min: withdrawal x1 (denial) at 4; confrontation x3 at 5; two strategies (not scored).
        segment(
            1,
            "withdrawal_denial",
            "confrontation_rejects_intervention",
            "confrontation_complaint_progress",
            "confrontation_defends_self",
            "strategy_clarify",
            "strategy_invite_exploration",
            withdrawal_significance=4,
            confrontation_significance=5,
        ),
        # C 10-14 min (a shorter last segment): confrontation x1 (complaint about the therapist) at 3.
        segment(2, "confrontation_complaint_therapist", length=240_000, confrontation_significance=3),
        contribution=3,
        resolution=2,
    )
    assert not THREE_RS.validate(responses, complete=True)
    result = THREE_RS.run_scoring(responses)
    assert result.scores == {
        "segments": 3,  # A, B, C
        "rupture_segments": 3,  # every segment has some marker
        "withdrawal_segments": 2,  # A, B
        "confrontation_segments": 2,  # B, C
        "withdrawal_markers": 3,  # 2 + 1 + 0
        "confrontation_markers": 4,  # 0 + 3 + 1
        "withdrawal_significance_max": 4,  # max(2, 4)
        "withdrawal_significance_mean": pytest.approx(3.0),  # (2 + 4) / 2
        "confrontation_significance_max": 5,  # max(5, 3)
        "confrontation_significance_mean": pytest.approx(4.0),  # (5 + 3) / 2
        "unresolved_confrontation": 1,  # confrontation coded and resolution 2 <= 2
    }
    assert [(f.code, f.severity) for f in result.flags] == [
        ("unresolved_confrontation", "critical"),
        ("rupture_coded", "info"),
    ]


def test_marker_without_significance_counts_but_is_not_averaged() -> None:
    responses = session(
        # A: confrontation x2 at 4.
        segment(
            0, "confrontation_complaint_activities", "confrontation_complaint_parameters", confrontation_significance=4
        ),
        # B: confrontation x1, significance not rated.
        segment(1, "confrontation_controls_therapist"),
        resolution=4,
    )
    scores = THREE_RS.run_scoring(responses).scores
    assert scores["confrontation_segments"] == 2  # A, B
    assert scores["confrontation_markers"] == 3  # 2 + 1
    assert scores["confrontation_significance_max"] == 4  # B has no rating: only A's 4
    assert scores["confrontation_significance_mean"] == 4  # 4 / 1
    assert scores["withdrawal_significance_max"] is None
    assert scores["unresolved_confrontation"] == 0  # resolution 4 > 2


def test_no_ruptures_at_all() -> None:
    responses = session(segment(0), segment(1), segment(2), contribution=1, resolution=1)
    assert not THREE_RS.validate(responses, complete=True)
    result = THREE_RS.run_scoring(responses)
    assert result.scores == {
        "segments": 3,
        "rupture_segments": 0,
        "withdrawal_segments": 0,
        "confrontation_segments": 0,
        "withdrawal_markers": 0,
        "confrontation_markers": 0,
        "withdrawal_significance_max": None,
        "withdrawal_significance_mean": None,
        "confrontation_significance_max": None,
        "confrontation_significance_mean": None,
        "unresolved_confrontation": 0,  # resolution 1 is ignored: there was no confrontation
    }
    assert result.flags == ()


def test_every_marker_in_every_segment() -> None:
    def full(index: int) -> SegmentResponses:
        return segment(index, *MARKERS, withdrawal_significance=5, confrontation_significance=index + 1)

    resolved = session(full(0), full(1), full(2), resolution=5)
    result = THREE_RS.run_scoring(resolved)
    assert result.scores["segments"] == 3
    assert result.scores["rupture_segments"] == 3
    assert result.scores["withdrawal_segments"] == 3
    assert result.scores["confrontation_segments"] == 3
    assert result.scores["withdrawal_markers"] == 21  # 7 markers x 3 segments
    assert result.scores["confrontation_markers"] == 21  # 7 markers x 3 segments
    assert result.scores["withdrawal_significance_max"] == 5
    assert result.scores["withdrawal_significance_mean"] == 5  # (5 + 5 + 5) / 3
    assert result.scores["confrontation_significance_max"] == 3  # max(1, 2, 3)
    assert result.scores["confrontation_significance_mean"] == pytest.approx(2.0)  # (1 + 2 + 3) / 3
    assert result.scores["unresolved_confrontation"] == 0  # resolution 5
    assert codes(resolved) == ["rupture_coded"]
    unresolved = session(full(0), full(1), full(2), resolution=1)
    assert codes(unresolved) == ["unresolved_confrontation", "rupture_coded"]


def test_significance_without_a_marker_is_accepted_and_ignored() -> None:
    # The contract's Rubric.validate cannot express "significance only with a marker" (a cross-item rule),
    # so such a rating is accepted and the roll-ups leave it out.
    responses = session(segment(0, withdrawal_significance=5, confrontation_significance=5), resolution=1)
    assert not THREE_RS.validate(responses, complete=True)
    result = THREE_RS.run_scoring(responses)
    assert result.scores["withdrawal_significance_max"] is None
    assert result.scores["confrontation_significance_mean"] is None
    assert result.scores["rupture_segments"] == 0
    assert result.scores["unresolved_confrontation"] == 0
    assert result.flags == ()
    # A withdrawal marker does not make a confrontation significance count.
    mixed = THREE_RS.run_scoring(session(segment(0, "withdrawal_denial", confrontation_significance=5)))
    assert mixed.scores["withdrawal_significance_max"] is None
    assert mixed.scores["confrontation_significance_max"] is None


@pytest.mark.parametrize(
    ("spans", "problem_at"),
    [
        ([(0, 300_000), (200_000, 500_000)], "segments[1]"),  # overlap
        ([(300_000, 600_000), (0, 300_000)], "segments[1]"),  # out of order
        ([(0, 300_000), (0, 300_000)], "segments[1]"),  # the same segment twice
        ([(0, 300_000), (300_000, 300_000)], "segments[1]"),  # empty
        ([(0, 300_000), (600_000, 500_000)], "segments[1]"),  # ends before it starts
        ([(-1, 300_000)], "segments[0]"),  # negative start
    ],
)
def test_bad_segment_times_are_rejected(spans: list[tuple[int, int]], problem_at: str) -> None:
    items = segment(0).items
    segments = tuple(SegmentResponses(start_ms=start, end_ms=end, items=items) for start, end in spans)
    problems = THREE_RS.validate(session(*segments), complete=True)
    assert [where for where, _ in problems] == [problem_at]


def test_other_segment_lengths_and_gaps_are_accepted() -> None:
    items = segment(0).items
    spans = [(0, 240_000), (240_000, 480_000), (600_000, 1_200_000)]  # 4-min, 4-min, a gap, then 10-min
    segments = tuple(SegmentResponses(start_ms=start, end_ms=end, items=items) for start, end in spans)
    assert not THREE_RS.validate(session(*segments), complete=True)


def test_items_answered_at_the_wrong_level_are_rejected() -> None:
    responses = Responses(
        items={"therapist_contribution": 3, "resolution_extent": 3, "withdrawal_denial": True},
        segments=(segment(0, resolution_extent=3),),
    )
    assert sorted(THREE_RS.validate(responses, complete=False)) == [
        ("items.withdrawal_denial", "'withdrawal_denial' is rated per segment, not per session"),
        ("segments[0].items.resolution_extent", "'resolution_extent' is rated per session, not per segment"),
    ]


def test_completeness() -> None:
    missing_marker = SegmentResponses(
        start_ms=0, end_ms=FIVE_MIN, items={k: v for k, v in segment(0).items.items() if k != "withdrawal_denial"}
    )
    assert THREE_RS.validate(session(missing_marker), complete=True) == [
        ("segments[0].items.withdrawal_denial", "required")
    ]
    assert not THREE_RS.validate(session(missing_marker), complete=False)  # a draft may be partial
    assert THREE_RS.validate(session(), complete=True) == [("segments", "at least one segment is required")]
    assert THREE_RS.validate(Responses(segments=(segment(0),)), complete=True) == [
        ("items.therapist_contribution", "required"),
        ("items.resolution_extent", "required"),
    ]
    not_boolean = SegmentResponses(start_ms=0, end_ms=FIVE_MIN, items={**segment(0).items, "withdrawal_denial": 1})
    assert THREE_RS.validate(session(not_boolean), complete=True) == [
        ("segments[0].items.withdrawal_denial", "expected true or false")
    ]
    off_scale = segment(0, "withdrawal_denial", withdrawal_significance=6)
    assert THREE_RS.validate(session(off_scale), complete=True) == [
        ("segments[0].items.withdrawal_significance", "expected a value from 1 to 5")
    ]


def test_unresolved_confrontation_exactly_at_the_cut() -> None:
    assert UNRESOLVED_AT_MOST == 2
    confronted = segment(0, "confrontation_complaint_therapist", confrontation_significance=1)
    at_cut = session(confronted, resolution=2)
    assert THREE_RS.run_scoring(at_cut).scores["unresolved_confrontation"] == 1  # 2 <= 2
    assert codes(at_cut) == ["unresolved_confrontation", "rupture_coded"]
    above_cut = session(confronted, resolution=3)
    assert THREE_RS.run_scoring(above_cut).scores["unresolved_confrontation"] == 0  # 3 > 2
    assert codes(above_cut) == ["rupture_coded"]
    # Withdrawal alone, however unresolved, is not a confrontation.
    withdrawn = session(segment(0, "withdrawal_deferential", withdrawal_significance=5), resolution=1)
    assert codes(withdrawn) == ["rupture_coded"]


def test_rupture_coded_exactly_at_the_cut() -> None:
    one = session(segment(0), segment(1, "withdrawal_content_affect_split"), segment(2))
    assert THREE_RS.run_scoring(one).scores["rupture_segments"] == 1  # 1 >= 1
    assert codes(one) == ["rupture_coded"]
    none = session(segment(0), segment(1), segment(2))
    assert THREE_RS.run_scoring(none).scores["rupture_segments"] == 0
    assert codes(none) == []


def test_unresolved_confrontation_is_undefined_until_resolution_is_rated() -> None:
    draft = Responses(segments=(segment(0, "confrontation_defends_self"),))
    result = THREE_RS.run_scoring(draft)
    assert result.scores["unresolved_confrontation"] is None
    assert [f.code for f in result.flags] == ["rupture_coded"]
