"""CTRS and CTS-R: hand-worked totals, the cuts, the per-item floor and the plugin contract."""

from __future__ import annotations

import pytest
import supervise_ctrs
from supervise_ctrs import CTRS, CTS_R, supervise_rubrics

from supervise.rubrics import OrdinalScale, Responses, Result, Rubric
from supervise.rubrics.registry import load_registry
from supervise.testing import check_rubric

CTRS_KEYS = [
    "agenda",
    "feedback",
    "understanding",
    "interpersonal_effectiveness",
    "collaboration",
    "pacing",
    "guided_discovery",
    "key_cognitions_behaviours",
    "strategy_for_change",
    "application_of_techniques",
    "homework",
]
CTS_R_KEYS = [
    "agenda_setting",
    "feedback",
    "collaboration",
    "pacing",
    "interpersonal_effectiveness",
    "emotional_expression",
    "key_cognitions",
    "behaviours",
    "guided_discovery",
    "conceptual_integration",
    "change_methods",
    "homework_setting",
]


def ctrs(values: list[int]) -> Result:
    return CTRS.run_scoring(Responses(items=dict(zip(CTRS_KEYS, values, strict=True))))


def cts_r(values: list[int]) -> Result:
    return CTS_R.run_scoring(Responses(items=dict(zip(CTS_R_KEYS, values, strict=True))))


def codes(result: Result) -> list[str]:
    return [flag.code for flag in result.flags]


def test_keeps_the_contract() -> None:
    rubrics = supervise_rubrics()
    assert [(r.key, r.version) for r in rubrics] == [("ctrs", "1.0"), ("cts-r", "1.0")]
    for rubric in rubrics:
        check_rubric(rubric)


def test_loads_through_the_registry() -> None:
    registry = load_registry(allow=frozenset(), extra=[("ctrs", supervise_ctrs)])
    assert registry.get("ctrs", "1.0") is CTRS
    assert registry.get("cts-r", "1.0") is CTS_R


@pytest.mark.parametrize(("rubric", "keys", "top"), [(CTRS, CTRS_KEYS, 66), (CTS_R, CTS_R_KEYS, 72)])
def test_declaration(rubric: Rubric, keys: list[str], top: int) -> None:
    assert [item.key for item in rubric.items] == keys
    for item in rubric.items:
        assert isinstance(item.scale, OrdinalScale)
        assert (item.scale.min, item.scale.max, item.scale.step, item.scale.start) == (0, 6, 1, None)
        assert not item.reverse
        assert item.required
    assert rubric.total == "sum"
    assert rubric.subscales == ()
    assert [(s.key, s.min, s.max) for s in rubric.score_specs()] == [("total", 0, top)]  # 11 * 6, 12 * 6
    assert set(rubric.rater_roles) == {"supervisor", "peer"}
    assert rubric.unit == "session"
    for threshold in rubric.thresholds:
        assert "(check)" in threshold.source


def test_ctrs_hand_worked() -> None:
    below = ctrs([4, 3, 5, 4, 4, 3, 3, 4, 3, 4, 2])
    assert below.scores == {"total": 39}  # 4+3+5+4+4+3+3+4+3+4+2
    assert codes(below) == ["below_competent"]
    assert below.flags[0].severity == "warning"
    competent = ctrs([5, 4, 4, 5, 4, 4, 3, 4, 4, 4, 3])
    assert competent.scores == {"total": 44}  # 5+4+4+5+4+4+3+4+4+4+3
    assert codes(competent) == []


def test_ctrs_cut() -> None:
    at_cut = ctrs([4] * 7 + [3] * 4)
    assert at_cut.scores["total"] == 40  # 7*4 + 4*3
    assert codes(at_cut) == []  # 40 is competent
    just_below = ctrs([4] * 6 + [3] * 5)
    assert just_below.scores["total"] == 39  # 6*4 + 5*3
    assert codes(just_below) == ["below_competent"]


def test_ctrs_has_no_item_floor() -> None:
    result = ctrs([6, 6, 6, 6, 6, 6, 4, 0, 0, 0, 0])
    assert result.scores["total"] == 40  # 6*6 + 4
    assert codes(result) == []  # items at 0 raise nothing on the CTRS: only the total is a rule


def test_ctrs_extremes() -> None:
    low = ctrs([0] * 11)
    assert low.scores == {"total": 0}
    assert codes(low) == ["below_competent"]
    high = ctrs([6] * 11)
    assert high.scores == {"total": 66}
    assert codes(high) == []


def test_cts_r_hand_worked() -> None:
    passing = cts_r([3, 3, 3, 3, 4, 2, 3, 3, 3, 3, 3, 3])
    assert passing.scores == {"total": 36}  # 10*3 + 4 + 2: total exactly 36, lowest item exactly 2
    assert codes(passing) == []
    floor_only = cts_r([3, 3, 3, 3, 4, 1, 3, 3, 3, 3, 3, 4])
    assert floor_only.scores == {"total": 36}  # 9*3 + 4 + 1 + 4
    assert codes(floor_only) == ["item_below_floor"]  # emotional expression 1 < 2
    total_only = cts_r([3] * 11 + [2])
    assert total_only.scores == {"total": 35}  # 11*3 + 2
    assert codes(total_only) == ["below_pass_total"]
    both = cts_r([5, 5, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2])
    assert both.scores == {"total": 28}  # 5+5+0 + 9*2 = 10 + 18
    assert codes(both) == ["below_pass_total", "item_below_floor"]
    assert [f.severity for f in both.flags] == ["warning", "warning"]


@pytest.mark.parametrize(
    ("lowest", "expected"),
    [(2, []), (1, ["item_below_floor"]), (0, ["item_below_floor"])],
)
def test_cts_r_floor_cut(lowest: int, expected: list[str]) -> None:
    # one item at `lowest`, the rest at 6: total 66 + lowest is far above 36
    for position in range(12):
        values = [6] * 12
        values[position] = lowest
        assert codes(cts_r(values)) == expected, CTS_R_KEYS[position]


def test_cts_r_total_cut() -> None:
    assert codes(cts_r([3] * 12)) == []  # 36 exactly
    assert codes(cts_r([3] * 11 + [2])) == ["below_pass_total"]  # 35, every item still >= 2


def test_cts_r_extremes() -> None:
    low = cts_r([0] * 12)
    assert low.scores == {"total": 0}
    assert codes(low) == ["below_pass_total", "item_below_floor"]
    high = cts_r([6] * 12)
    assert high.scores == {"total": 72}
    assert codes(high) == []


@pytest.mark.parametrize("rubric", [CTRS, CTS_R], ids=["ctrs", "cts-r"])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (7, "expected a value from 0 to 6"),
        (-1, "expected a value from 0 to 6"),
        (2.5, "expected a value from 0 to 6 in steps of 1"),
        (True, "expected a number"),
    ],
)
def test_invalid_input_names_the_item(rubric: Rubric, value: float, message: str) -> None:
    valid = {item.key: 3 for item in rubric.items}
    assert rubric.validate(Responses(items=valid), complete=True) == []
    broken = Responses(items={**valid, "feedback": value})
    assert rubric.validate(broken, complete=True) == [("items.feedback", message)]


def test_missing_and_unknown_items() -> None:
    problems = CTS_R.validate(Responses(items={"feedback": 4, "understanding": 3}), complete=True)
    assert ("items.understanding", "cts-r 1.0 has no item 'understanding'") in problems  # a CTRS-only item
    assert {field for field, message in problems if message == "required"} == {
        f"items.{k}" for k in CTS_R_KEYS if k != "feedback"
    }
