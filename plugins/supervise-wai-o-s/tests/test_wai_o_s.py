"""WAI observer short form: hand-worked scores, reverse keying, sums and the plugin contract."""

from __future__ import annotations

import pytest
from supervise_wai_o_s import REVERSE_KEYED_ITEMS, WAI_O_S, supervise_rubrics

from supervise.rubrics import Responses
from supervise.testing import check_rubric

KEYS = [f"item_{n:02d}" for n in range(1, 13)]
GOAL = ["item_04", "item_06", "item_08", "item_11"]
TASK = ["item_01", "item_02", "item_10", "item_12"]
BOND = ["item_03", "item_05", "item_07", "item_09"]


def answers(*values: int) -> Responses:
    return Responses(items=dict(zip(KEYS, values, strict=True)))


def test_keeps_the_contract() -> None:
    rubrics = supervise_rubrics()
    assert [(r.key, r.version) for r in rubrics] == [("wai-o-s", "1.0")]
    for rubric in rubrics:
        check_rubric(rubric)


def test_declaration() -> None:
    assert [i.key for i in WAI_O_S.items] == KEYS
    assert {s.key: list(s.items) for s in WAI_O_S.subscales} == {"goal": GOAL, "task": TASK, "bond": BOND}
    assert all(i.subscale == s.key for s in WAI_O_S.subscales for i in WAI_O_S.items if i.key in s.items)
    assert WAI_O_S.rater_roles == ("supervisor", "peer")
    assert WAI_O_S.thresholds == ()  # no published cutoff
    for item in WAI_O_S.items:
        assert (item.scale.min, item.scale.max, item.scale.step, item.scale.start) == (1, 7, 1, 4)
    assert [i.key for i in WAI_O_S.items if i.reverse] == list(REVERSE_KEYED_ITEMS)
    for key in REVERSE_KEYED_ITEMS:
        assert key in WAI_O_S.description
    assert "drop between" in WAI_O_S.description


def test_score_ranges() -> None:
    specs = {s.key: (s.min, s.max) for s in WAI_O_S.score_specs()}
    # means stay on the 1-7 item scale; four items sum to 4..28, twelve to 12..84
    assert specs == {
        "goal": (1, 7),
        "task": (1, 7),
        "bond": (1, 7),
        "total": (1, 7),
        "goal_sum": (4, 28),
        "task_sum": (4, 28),
        "bond_sum": (4, 28),
        "total_sum": (12, 84),
    }


def test_hand_worked_scores() -> None:
    #            1  2  3  4  5  6  7  8  9 10 11 12
    r = answers(6, 5, 7, 2, 6, 5, 6, 5, 7, 3, 4, 6)
    result = WAI_O_S.run_scoring(r)
    # reverse keyed: item_04 2 -> 8-2 = 6, item_10 3 -> 8-3 = 5
    # goal (4,6,8,11): 6+5+5+4 = 20, mean 5.0
    # task (1,2,10,12): 6+5+5+6 = 22, mean 5.5
    # bond (3,5,7,9): 7+6+6+7 = 26, mean 6.5
    # total: 20+22+26 = 68, mean 68/12
    assert result.scores == pytest.approx(
        {
            "goal": 5.0,
            "task": 5.5,
            "bond": 6.5,
            "total": 68 / 12,
            "goal_sum": 20,
            "task_sum": 22,
            "bond_sum": 26,
            "total_sum": 68,
        }
    )
    assert result.flags == ()


def test_neutral_start_stays_neutral() -> None:
    # every item at its starting point 4; reverse keying maps 4 to 8-4 = 4
    result = WAI_O_S.run_scoring(answers(*[4] * 12))
    assert result.scores == {
        "goal": 4.0,
        "task": 4.0,
        "bond": 4.0,
        "total": 4.0,
        "goal_sum": 16.0,
        "task_sum": 16.0,
        "bond_sum": 16.0,
        "total_sum": 48.0,
    }


def test_all_raw_minimum_and_maximum() -> None:
    # all 1: the two reverse-keyed items score 8-1 = 7
    low = WAI_O_S.run_scoring(answers(*[1] * 12)).scores
    assert low["goal"] == pytest.approx(2.5)  # (7+1+1+1)/4
    assert low["task"] == pytest.approx(2.5)  # (1+1+7+1)/4
    assert low["bond"] == pytest.approx(1.0)
    assert low["total_sum"] == 24  # 10*1 + 2*7
    assert low["total"] == pytest.approx(2.0)  # 24/12
    # all 7: the two reverse-keyed items score 8-7 = 1
    high = WAI_O_S.run_scoring(answers(*[7] * 12)).scores
    assert high["goal"] == pytest.approx(5.5)  # (1+7+7+7)/4
    assert high["task"] == pytest.approx(5.5)
    assert high["bond"] == pytest.approx(7.0)
    assert high["total_sum"] == 72  # 10*7 + 2*1
    assert high["total"] == pytest.approx(6.0)  # 72/12


def test_weakest_and_strongest_alliance() -> None:
    # scored minimum: positive items at 1, negatively keyed items at 7 (strong evidence of the problem)
    worst = {k: (7 if k in REVERSE_KEYED_ITEMS else 1) for k in KEYS}
    low = WAI_O_S.run_scoring(Responses(items=worst)).scores
    assert low == {
        "goal": 1.0,
        "task": 1.0,
        "bond": 1.0,
        "total": 1.0,
        "goal_sum": 4.0,
        "task_sum": 4.0,
        "bond_sum": 4.0,
        "total_sum": 12.0,
    }
    best = {k: (1 if k in REVERSE_KEYED_ITEMS else 7) for k in KEYS}
    high = WAI_O_S.run_scoring(Responses(items=best)).scores
    assert high == {
        "goal": 7.0,
        "task": 7.0,
        "bond": 7.0,
        "total": 7.0,
        "goal_sum": 28.0,
        "task_sum": 28.0,
        "bond_sum": 28.0,
        "total_sum": 84.0,
    }


@pytest.mark.parametrize("key", REVERSE_KEYED_ITEMS)
def test_reverse_keyed_item_moves_its_subscale_down(key: str) -> None:
    # one negatively keyed item from 4 to 6 (evidence of the problem): it scores 8-6 = 2,
    # so its subscale sum falls from 16 to 14 (mean 3.5) and the total sum from 48 to 46
    result = WAI_O_S.run_scoring(Responses(items={**dict.fromkeys(KEYS, 4), key: 6})).scores
    subscale = "goal" if key in GOAL else "task"
    assert result[subscale] == pytest.approx(3.5)
    assert result[f"{subscale}_sum"] == 14
    assert result["total_sum"] == 46
    assert result["total"] == pytest.approx(46 / 12)


def test_positive_item_is_not_reversed() -> None:
    # item_06 (goal, positively keyed) from 4 to 6: goal sum 16 -> 18
    result = WAI_O_S.run_scoring(Responses(items={**dict.fromkeys(KEYS, 4), "item_06": 6})).scores
    assert result["goal_sum"] == 18
    assert result["goal"] == pytest.approx(4.5)


def test_sums_are_null_until_their_items_are_answered() -> None:
    draft = {k: 5 for k in KEYS if k != "item_08"}  # a draft with one goal item unanswered
    result = WAI_O_S.run_scoring(Responses(items=draft)).scores
    # goal mean over the three answered items: item_04 8-5 = 3, item_06 5, item_11 5 -> 13/3
    assert result["goal"] == pytest.approx(13 / 3)
    assert result["goal_sum"] is None
    assert result["total_sum"] is None
    # task is complete: 5 + 5 + (8-5 = 3) + 5 = 18; bond: 4*5 = 20
    assert result["task_sum"] == 18
    assert result["bond_sum"] == 20


def test_validation_names_item_and_range() -> None:
    complete = dict.fromkeys(KEYS, 4)
    for bad in (0, 8):
        problems = WAI_O_S.validate(Responses(items={**complete, "item_03": bad}), complete=True)
        assert problems == [("items.item_03", "expected a value from 1 to 7")]
    half = WAI_O_S.validate(Responses(items={**complete, "item_10": 4.5}), complete=True)
    assert half == [("items.item_10", "expected a value from 1 to 7 in steps of 1")]
    unknown = WAI_O_S.validate(Responses(items={**complete, "item_13": 4}), complete=True)
    assert unknown == [("items.item_13", "wai-o-s 1.0 has no item 'item_13'")]
    missing = WAI_O_S.validate(Responses(items={"item_01": 4}), complete=True)
    assert {field for field, _ in missing} == {f"items.{k}" for k in KEYS if k != "item_01"}


def test_what_no_primary_source_settles_is_served_as_caveats() -> None:
    """Which items are reverse keyed could not be confirmed from a primary source: the definition says so in a
    field a front end shows, and saying so does not change the checksum reviews were made under."""
    import dataclasses

    assert any("item_04, item_10" in caveat and "not confirmed" in caveat for caveat in WAI_O_S.caveats)
    assert WAI_O_S.definition().caveats == WAI_O_S.caveats
    assert dataclasses.replace(WAI_O_S, caveats=()).checksum() == WAI_O_S.checksum()
