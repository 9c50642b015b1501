"""WAI-SR (client short revised form): hand-worked scores, the published item key and the plugin contract."""

from __future__ import annotations

import pytest
from supervise_wai_sr import WAI_SR, supervise_rubrics

from supervise.rubrics import Responses
from supervise.testing import check_rubric

KEYS = [f"item_{n:02d}" for n in range(1, 13)]


def answers(*values: int) -> Responses:
    return Responses(items=dict(zip(KEYS, values, strict=True)))


def test_keeps_the_contract() -> None:
    rubrics = supervise_rubrics()
    assert [(r.key, r.version) for r in rubrics] == [("wai-sr", "1.0")]
    for rubric in rubrics:
        check_rubric(rubric)


def test_declaration() -> None:
    assert [i.key for i in WAI_SR.items] == KEYS
    # Hatcher & Gillaspy (2006): Task 1, 2, 10, 12; Bond 3, 5, 7, 9; Goal 4, 6, 8, 11
    numbers = {s.key: [int(k.removeprefix("item_")) for k in s.items] for s in WAI_SR.subscales}
    assert numbers == {"task": [1, 2, 10, 12], "bond": [3, 5, 7, 9], "goal": [4, 6, 8, 11]}
    assert all(i.subscale == s.key for s in WAI_SR.subscales for i in WAI_SR.items if i.key in s.items)
    assert not any(i.reverse for i in WAI_SR.items)
    for item in WAI_SR.items:
        assert (item.scale.min, item.scale.max, item.scale.step) == (1, 5, 1)
    assert WAI_SR.rater_roles == ("client",)
    assert "self" not in WAI_SR.rater_roles
    assert WAI_SR.thresholds == ()
    assert {s.key: (s.min, s.max) for s in WAI_SR.score_specs()} == {
        "task": (1, 5),
        "bond": (1, 5),
        "goal": (1, 5),
        "total": (1, 5),
    }


def test_hand_worked_scores() -> None:
    #            1  2  3  4  5  6  7  8  9 10 11 12
    r = answers(4, 3, 5, 2, 5, 3, 4, 3, 5, 2, 3, 4)
    result = WAI_SR.run_scoring(r)
    # task (1,2,10,12): 4+3+2+4 = 13, mean 3.25
    # bond (3,5,7,9): 5+5+4+5 = 19, mean 4.75
    # goal (4,6,8,11): 2+3+3+3 = 11, mean 2.75
    # total: 13+19+11 = 43, mean 43/12
    assert result.scores == pytest.approx({"task": 3.25, "bond": 4.75, "goal": 2.75, "total": 43 / 12})
    assert result.flags == ()


def test_no_item_is_reversed() -> None:
    # raising item_04 (goal) from 3 to 5 raises the goal mean by 2/4 = 0.5: no reverse keying anywhere
    base = dict.fromkeys(KEYS, 3)
    assert WAI_SR.run_scoring(Responses(items=base)).scores["goal"] == 3.0
    assert WAI_SR.run_scoring(Responses(items={**base, "item_04": 5})).scores["goal"] == pytest.approx(3.5)
    # item_10 (task) likewise: task mean (3+3+5+3)/4 = 3.5
    assert WAI_SR.run_scoring(Responses(items={**base, "item_10": 5})).scores["task"] == pytest.approx(3.5)


def test_all_minimum_and_all_maximum() -> None:
    low = WAI_SR.run_scoring(answers(*[1] * 12))
    assert low.scores == {"task": 1.0, "bond": 1.0, "goal": 1.0, "total": 1.0}
    high = WAI_SR.run_scoring(answers(*[5] * 12))
    assert high.scores == {"task": 5.0, "bond": 5.0, "goal": 5.0, "total": 5.0}
    assert low.flags == high.flags == ()


def test_validation_names_item_and_range() -> None:
    complete = dict.fromkeys(KEYS, 3)
    for bad in (0, 6):
        problems = WAI_SR.validate(Responses(items={**complete, "item_07": bad}), complete=True)
        assert problems == [("items.item_07", "expected a value from 1 to 5")]
    half = WAI_SR.validate(Responses(items={**complete, "item_12": 2.5}), complete=True)
    assert half == [("items.item_12", "expected a value from 1 to 5 in steps of 1")]
    unknown = WAI_SR.validate(Responses(items={**complete, "item_13": 3}), complete=True)
    assert unknown == [("items.item_13", "wai-sr 1.0 has no item 'item_13'")]
    missing = WAI_SR.validate(Responses(items={"item_01": 3}), complete=True)
    assert {field for field, _ in missing} == {f"items.{k}" for k in KEYS if k != "item_01"}
