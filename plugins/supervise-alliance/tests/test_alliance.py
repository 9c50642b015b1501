"""The seed alliance rubric: hand-worked scores and the plugin contract."""

from __future__ import annotations

import pytest
from supervise_alliance import ALLIANCE, ALLIANCE_1_1, supervise_rubrics

from supervise.rubrics import Responses
from supervise.testing import check_rubric

KEYS = ["rapport", "trust", "warmth", "understood", "collaboration", "respect", "empowerment", "flexibility"]


def test_keeps_the_contract() -> None:
    rubrics = supervise_rubrics()
    assert [(r.key, r.version) for r in rubrics] == [("alliance", "1.0"), ("alliance", "1.1")]
    for rubric in rubrics:
        check_rubric(rubric)


def test_1_1_is_1_0_with_the_change_rule() -> None:
    assert ALLIANCE.change_rules == ()  # 1.0 unchanged: its snapshots still match
    assert ALLIANCE_1_1.items == ALLIANCE.items and ALLIANCE_1_1.thresholds == ALLIANCE.thresholds
    [rule] = ALLIANCE_1_1.change_rules
    assert (rule.key, rule.target, rule.drop_at_least, rule.drop_share_over) == (
        "total_fell_share",
        "total",
        None,
        0.15,
    )
    assert rule.source.strip() and rule.severity == "warning"


def test_the_change_rule_by_hand() -> None:
    """The total's range is 1-7, 6 points: more than 15% of it is more than 0.9 points."""
    [rule] = ALLIANCE_1_1.change_rules
    span = 7 - 1
    assert not rule.fell(5.0, 4.1, span)  # 0.9: not more than 0.9
    assert rule.fell(5.0, 4.0, span)  # 1.0
    assert rule.fell(5.0, 4.09, span)  # 0.91
    assert not rule.fell(4.0, 5.0, span)  # a rise

    # totals as the rubric computes them: every item 5 is 5.0; seven 4s and a 5 are 33/8 = 4.125 (fell 0.875);
    # eight 4s are 4.0 (fell 1.0)
    def total(values: list[int]) -> float:
        return float(ALLIANCE_1_1.run_scoring(Responses(items=dict(zip(KEYS, values, strict=True)))).scores["total"])

    before = total([5] * 8)
    assert before == 5.0
    assert not rule.fell(before, total([4] * 7 + [5]), span)
    assert rule.fell(before, total([4] * 8), span)


def test_hand_worked_scores() -> None:
    values = dict(zip(KEYS, [7, 6, 5, 6, 3, 4, 2, 5], strict=True))
    result = ALLIANCE.run_scoring(Responses(items=values))
    assert result.scores["bond"] == pytest.approx(6.0)  # (7+6+5+6)/4
    assert result.scores["partnership"] == pytest.approx(3.0)  # (3+4+2)/3
    assert result.scores["responsiveness"] == pytest.approx(5.0)
    assert result.scores["total"] == pytest.approx(38 / 8)
    assert [f.code for f in result.flags] == ["item_strained"]  # empowerment 2 <= 2


def test_all_minimum_and_all_maximum() -> None:
    low = ALLIANCE.run_scoring(Responses(items=dict.fromkeys(KEYS, 1)))
    assert low.scores == {"bond": 1.0, "partnership": 1.0, "responsiveness": 1.0, "total": 1.0}
    assert {f.code for f in low.flags} == {"below_neutral", "item_strained"}
    high = ALLIANCE.run_scoring(Responses(items=dict.fromkeys(KEYS, 7)))
    assert high.scores["total"] == 7.0
    assert high.flags == ()


def test_thresholds_exactly_at_the_cut() -> None:
    at_neutral = ALLIANCE.run_scoring(Responses(items=dict.fromkeys(KEYS, 4)))
    assert at_neutral.flags == ()  # total 4 is not below 4
    above_floor = ALLIANCE.run_scoring(Responses(items={**dict.fromkeys(KEYS, 4), "trust": 3, "rapport": 5}))
    assert above_floor.scores["total"] == 4.0
    assert above_floor.flags == ()  # 3 is above the floor of 2, total exactly 4
    at_floor = ALLIANCE.run_scoring(Responses(items={**dict.fromkeys(KEYS, 4), "trust": 2, "rapport": 6}))
    assert [f.code for f in at_floor.flags] == ["item_strained"]  # 2 <= 2, total still 4
    below = ALLIANCE.run_scoring(Responses(items={**dict.fromkeys(KEYS, 4), "trust": 3}))
    assert [f.code for f in below.flags] == ["below_neutral"]  # 31/8 < 4


def test_validation_names_item_and_range() -> None:
    problems = ALLIANCE.validate(Responses(items={"rapport": 9, "charisma": 3}), complete=False)
    assert ("items.rapport", "expected a value from 1 to 7") in problems
    assert ("items.charisma", "alliance 1.0 has no item 'charisma'") in problems
    missing = ALLIANCE.validate(Responses(items={"rapport": 4}), complete=True)
    assert {field for field, _ in missing} == {f"items.{k}" for k in KEYS if k != "rapport"}
