"""MITI 4.2.1: hand-worked summary scores from the manual's formulas, edge cases and the plugin contract."""

from __future__ import annotations

import pytest
import supervise_miti
from supervise_miti import MITI, supervise_rubrics

from supervise.rubrics import CountScale, OrdinalScale, Responses, Result
from supervise.rubrics.registry import load_registry
from supervise.testing import check_rubric

GLOBALS = ["cultivating_change_talk", "softening_sustain_talk", "partnership", "empathy"]
COUNTS = [
    "giving_information",
    "persuade",
    "persuade_with_permission",
    "question",
    "simple_reflection",
    "complex_reflection",
    "affirm",
    "seeking_collaboration",
    "emphasizing_autonomy",
    "confront",
]
EXTRAS = ["technical", "relational", "pct_cr", "r_q", "mi_adherent", "mi_non_adherent"]


def responses(globals_: tuple[int, int, int, int] = (3, 3, 3, 3), **counts: int) -> Responses:
    """Globals in the order CCT, SST, partnership, empathy; every count 0 unless given."""
    return Responses(items={**dict(zip(GLOBALS, globals_, strict=True)), **dict.fromkeys(COUNTS, 0), **counts})


def codes(result: Result) -> list[str]:
    return [flag.code for flag in result.flags]


def test_keeps_the_contract() -> None:
    rubrics = supervise_rubrics()
    assert [(r.key, r.version, r.manual_version) for r in rubrics] == [("miti", "4.2.1", "4.2.1")]
    for rubric in rubrics:
        check_rubric(rubric)


def test_loads_through_the_registry() -> None:
    registry = load_registry(allow=frozenset(), extra=[("miti", supervise_miti)])
    assert registry.get("miti", "4.2.1") is MITI


def test_declaration() -> None:
    assert MITI.total is None
    assert MITI.subscales == ()
    assert MITI.unit == "session"
    assert set(MITI.rater_roles) == {"supervisor", "peer"}
    assert "20-minute" in MITI.description
    assert [s.key for s in MITI.score_specs()] == EXTRAS
    ranges = {s.key: (s.min, s.max) for s in MITI.score_specs()}
    assert ranges == {
        "technical": (1, 5),
        "relational": (1, 5),
        "pct_cr": (0, 100),
        "r_q": (0, None),
        "mi_adherent": (0, None),
        "mi_non_adherent": (0, None),
    }
    for item in MITI.items:
        scale = item.scale
        if item.key in GLOBALS:
            assert isinstance(scale, OrdinalScale)
            assert (scale.min, scale.max, scale.step, scale.start) == (1, 5, 1, 3)
        else:
            assert isinstance(scale, CountScale)
            assert scale.max is None
    assert [item.key for item in MITI.items] == GLOBALS + COUNTS
    for threshold in MITI.thresholds:
        assert "MITI 4.2.1" in threshold.source
        assert threshold.op == "lt"
        assert threshold.severity == ("warning" if threshold.key.endswith("_below_fair") else "info")
    cuts = {t.key: (t.target, t.value) for t in MITI.thresholds}
    assert cuts == {
        "relational_below_fair": ("relational", 3.5),
        "relational_below_good": ("relational", 4),
        "technical_below_fair": ("technical", 3),
        "technical_below_good": ("technical", 4),
        "pct_cr_below_fair": ("pct_cr", 40),
        "pct_cr_below_good": ("pct_cr", 50),
        "r_q_below_fair": ("r_q", 1),
        "r_q_below_good": ("r_q", 2),
    }


def test_hand_worked_good_session() -> None:
    result = MITI.run_scoring(
        responses(
            (4, 3, 4, 5),
            giving_information=5,
            persuade=2,
            persuade_with_permission=3,
            question=10,
            simple_reflection=8,
            complex_reflection=12,
            affirm=3,
            seeking_collaboration=2,
            emphasizing_autonomy=1,
            confront=1,
        )
    )
    assert result.scores == {
        "technical": pytest.approx(3.5),  # (4 + 3) / 2
        "relational": pytest.approx(4.5),  # (4 + 5) / 2
        "pct_cr": pytest.approx(60.0),  # 100 * 12 / (8 + 12)
        "r_q": pytest.approx(2.0),  # (8 + 12) / 10
        "mi_adherent": 6,  # seek 2 + affirm 3 + emphasize 1
        "mi_non_adherent": 3,  # confront 1 + persuade 2; persuade with permission (3) left out
    }
    # technical 3.5: not below fair (3) but below good (4); relational, %CR and R:Q (exactly 2) are good
    assert codes(result) == ["technical_below_good"]
    assert result.flags[0].severity == "info"


def test_hand_worked_poor_session() -> None:
    result = MITI.run_scoring(
        responses(
            (2, 3, 3, 3),
            giving_information=7,
            persuade=4,
            question=20,
            simple_reflection=9,
            complex_reflection=3,
            seeking_collaboration=1,
            confront=2,
        )
    )
    assert result.scores["technical"] == pytest.approx(2.5)  # (2 + 3) / 2
    assert result.scores["relational"] == pytest.approx(3.0)  # (3 + 3) / 2
    assert result.scores["pct_cr"] == pytest.approx(25.0)  # 100 * 3 / (9 + 3)
    assert result.scores["r_q"] == pytest.approx(0.6)  # (9 + 3) / 20
    assert result.scores["mi_adherent"] == 1  # seek 1 + affirm 0 + emphasize 0
    assert result.scores["mi_non_adherent"] == 6  # confront 2 + persuade 4
    # every summary score is below fair, hence also below good: both flags, warning then info
    assert codes(result) == [
        "relational_below_fair",
        "relational_below_good",
        "technical_below_fair",
        "technical_below_good",
        "pct_cr_below_fair",
        "pct_cr_below_good",
        "r_q_below_fair",
        "r_q_below_good",
    ]
    assert [f.severity for f in result.flags] == ["warning", "info"] * 4


def test_empty_counts_leave_ratios_undefined() -> None:
    result = MITI.run_scoring(responses((3, 3, 3, 3)))
    assert result.scores["pct_cr"] is None  # 0 / (0 + 0)
    assert result.scores["r_q"] is None  # 0 / 0
    assert result.scores["mi_adherent"] == 0
    assert result.scores["mi_non_adherent"] == 0
    # globals at their starting point 3: technical 3 (fair, not good), relational 3 (below fair); no ratio flags
    assert codes(result) == ["relational_below_fair", "relational_below_good", "technical_below_good"]


def test_zero_denominators_only() -> None:
    no_questions = MITI.run_scoring(responses((4, 4, 4, 4), simple_reflection=1, complex_reflection=3))
    assert no_questions.scores["r_q"] is None  # 4 / 0 is undefined, not infinity
    assert no_questions.scores["pct_cr"] == pytest.approx(75.0)  # 100 * 3 / 4
    assert codes(no_questions) == []
    no_reflections = MITI.run_scoring(responses((4, 4, 4, 4), question=5))
    assert no_reflections.scores["pct_cr"] is None  # 0 / 0
    assert no_reflections.scores["r_q"] == 0.0  # 0 / 5 is defined: questions without any reflection
    assert codes(no_reflections) == ["r_q_below_fair", "r_q_below_good"]


def test_all_minimum() -> None:
    result = MITI.run_scoring(responses((1, 1, 1, 1)))
    assert result.scores == {
        "technical": 1.0,
        "relational": 1.0,
        "pct_cr": None,
        "r_q": None,
        "mi_adherent": 0,
        "mi_non_adherent": 0,
    }
    assert codes(result) == [
        "relational_below_fair",
        "relational_below_good",
        "technical_below_fair",
        "technical_below_good",
    ]


def test_all_maximum() -> None:
    result = MITI.run_scoring(responses((5, 5, 5, 5), **dict.fromkeys(COUNTS, 100)))
    assert result.scores == {
        "technical": 5.0,
        "relational": 5.0,
        "pct_cr": 50.0,  # 100 * 100 / 200: exactly "good"
        "r_q": 2.0,  # 200 / 100: exactly "good"
        "mi_adherent": 300,
        "mi_non_adherent": 200,  # persuade with permission's 100 left out
    }
    assert codes(result) == []
    only_complex = MITI.run_scoring(responses((5, 5, 5, 5), complex_reflection=7, question=1))
    assert only_complex.scores["pct_cr"] == 100.0  # the top of the declared range
    assert only_complex.scores["r_q"] == 7.0


@pytest.mark.parametrize(
    ("globals_", "expected"),
    [
        ((4, 4, 3, 4), ["relational_below_good"]),  # relational exactly 3.5: fair, not good
        ((4, 4, 3, 3), ["relational_below_fair", "relational_below_good"]),  # 3.0, the next value below
        ((4, 4, 4, 4), []),  # relational exactly 4: good
        ((3, 3, 4, 4), ["technical_below_good"]),  # technical exactly 3: fair, not good
        ((2, 3, 4, 4), ["technical_below_fair", "technical_below_good"]),  # 2.5, just below
        ((4, 3, 4, 4), ["technical_below_good"]),  # 3.5, just below good
    ],
)
def test_global_cuts(globals_: tuple[int, int, int, int], expected: list[str]) -> None:
    # 10 reflections, half complex, over 5 questions: %CR 50 and R:Q 2, both exactly good
    result = MITI.run_scoring(responses(globals_, simple_reflection=5, complex_reflection=5, question=5))
    assert codes(result) == expected


@pytest.mark.parametrize(
    ("simple", "complex_", "pct", "expected"),
    [
        (3, 2, 40.0, ["pct_cr_below_good"]),  # 100 * 2 / 5 = 40 exactly: fair, not good
        (21, 14, 40.0, ["pct_cr_below_good"]),  # 100 * 14 / 35 = 40 exactly
        (601, 399, 39.9, ["pct_cr_below_fair", "pct_cr_below_good"]),  # just below fair
        (5, 5, 50.0, []),  # exactly good
        (501, 499, 49.9, ["pct_cr_below_good"]),  # just below good
    ],
)
def test_pct_cr_cuts(simple: int, complex_: int, pct: float, expected: list[str]) -> None:
    reflections = simple + complex_
    # questions at half the reflections keep R:Q exactly 2 (good)
    result = MITI.run_scoring(
        responses(
            (4, 4, 4, 4),
            simple_reflection=simple,
            complex_reflection=complex_,
            question=reflections // 2 if reflections % 2 == 0 else reflections,
        )
    )
    assert result.scores["pct_cr"] == pytest.approx(pct)
    r_q_flags = [] if reflections % 2 == 0 else ["r_q_below_good"]  # odd totals give R:Q 1
    assert codes(result) == expected + r_q_flags


@pytest.mark.parametrize(
    ("reflections", "questions", "expected"),
    [
        (10, 10, ["r_q_below_good"]),  # 1.0 exactly: fair, not good
        (9, 10, ["r_q_below_fair", "r_q_below_good"]),  # 0.9, just below fair
        (20, 10, []),  # 2.0 exactly: good
        (19, 10, ["r_q_below_good"]),  # 1.9, just below good
    ],
)
def test_r_q_cuts(reflections: int, questions: int, expected: list[str]) -> None:
    # all reflections complex: %CR 100, no %CR flag
    result = MITI.run_scoring(responses((4, 4, 4, 4), complex_reflection=reflections, question=questions))
    assert result.scores["r_q"] == pytest.approx(reflections / questions)
    assert codes(result) == expected


def test_persuade_with_permission_is_not_non_adherent() -> None:
    without = MITI.run_scoring(responses(persuade=2, confront=1))
    with_permission = MITI.run_scoring(responses(persuade=2, confront=1, persuade_with_permission=40))
    assert without.scores["mi_non_adherent"] == 3  # 2 + 1
    assert with_permission.scores == without.scores  # 40 more with permission change no score
    only_with_permission = MITI.run_scoring(responses(persuade_with_permission=9))
    assert only_with_permission.scores["mi_non_adherent"] == 0
    assert only_with_permission.scores["mi_adherent"] == 0


def test_giving_information_counts_toward_nothing() -> None:
    base = MITI.run_scoring(responses((4, 4, 4, 4), question=2, simple_reflection=2, complex_reflection=2))
    informed = MITI.run_scoring(
        responses((4, 4, 4, 4), question=2, simple_reflection=2, complex_reflection=2, giving_information=30)
    )
    assert informed == base


def test_partial_draft_scores_what_it_can() -> None:
    result = MITI.run_scoring(Responses(items={"partnership": 4, "empathy": 3, "question": 4}))
    assert result.scores["relational"] == pytest.approx(3.5)
    assert result.scores["technical"] is None
    assert result.scores["r_q"] is None  # reflections not entered yet
    assert result.scores["mi_adherent"] is None
    assert codes(result) == ["relational_below_good"]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("question", -1, "expected a whole number of 0 or more"),
        ("complex_reflection", 2.5, "expected a whole number of 0 or more"),
        ("affirm", True, "expected a number"),
        ("empathy", 6, "expected a value from 1 to 5"),
        ("cultivating_change_talk", 0, "expected a value from 1 to 5"),
        ("partnership", 3.5, "expected a value from 1 to 5 in steps of 1"),
    ],
)
def test_invalid_input_names_the_item(key: str, value: float, message: str) -> None:
    valid = responses((4, 4, 4, 4), question=3)
    assert MITI.validate(valid, complete=True) == []
    broken = Responses(items={**valid.items, key: value})
    assert MITI.validate(broken, complete=True) == [(f"items.{key}", message)]


def test_missing_and_unknown_items() -> None:
    problems = MITI.validate(Responses(items={"empathy": 4, "open_question": 2}), complete=True)
    assert ("items.open_question", "miti 4.2.1 has no item 'open_question'") in problems
    assert {field for field, message in problems if message == "required"} == {
        f"items.{k}" for k in GLOBALS + COUNTS if k != "empathy"
    }
