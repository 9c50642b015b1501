"""The seed alliance rubric: hand-worked scores and the plugin contract."""

from __future__ import annotations

import pytest
from supervise_alliance import ALLIANCE, supervise_rubrics

from supervise.rubrics import Responses
from supervise.testing import check_rubric

KEYS = ["rapport", "trust", "warmth", "understood", "collaboration", "respect", "empowerment", "flexibility"]


def test_keeps_the_contract() -> None:
    for rubric in supervise_rubrics():
        check_rubric(rubric)


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
