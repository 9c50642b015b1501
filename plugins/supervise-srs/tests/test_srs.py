"""Session Rating Scale: hand-worked totals, flags at and around the cuts, and the plugin contract."""

from __future__ import annotations

import pytest
from supervise_srs import SRS, supervise_rubrics

from supervise.rubrics import Responses
from supervise.testing import check_rubric

KEYS = ["relationship", "goals_topics", "approach", "overall"]


def answers(*values: float) -> Responses:
    return Responses(items=dict(zip(KEYS, values, strict=True)))


def flags(*values: float) -> set[str]:
    return {f.code for f in SRS.run_scoring(answers(*values)).flags}


def test_keeps_the_contract() -> None:
    rubrics = supervise_rubrics()
    assert [(r.key, r.version) for r in rubrics] == [("srs", "1.0")]
    for rubric in rubrics:
        check_rubric(rubric)


def test_declaration() -> None:
    assert [i.key for i in SRS.items] == KEYS
    for item in SRS.items:
        assert (item.scale.min, item.scale.max, item.scale.step) == (0, 10, 0.1)
        assert not item.reverse
    assert SRS.subscales == ()
    assert [(s.key, s.min, s.max) for s in SRS.score_specs()] == [("total", 0, 40)]
    assert SRS.rater_roles == ("client",)
    by_key = {t.key: t for t in SRS.thresholds}
    assert (by_key["total_below_36"].target, by_key["total_below_36"].op, by_key["total_below_36"].value) == (
        "total",
        "lt",
        36,
    )
    assert by_key["total_below_36"].severity == "warning"
    assert (by_key["item_below_9"].target, by_key["item_below_9"].op, by_key["item_below_9"].value) == ("*", "lt", 9)
    assert all(t.source.strip() for t in SRS.thresholds)
    assert "previous session" in SRS.description
    # the cross-session PCOMS rule, as data the host applies: a fall of 1 point or more in the total
    [fell] = SRS.change_rules
    assert (fell.key, fell.target, fell.drop_at_least, fell.drop_share_over) == ("total_fell_1", "total", 1, None)
    assert fell.severity == "warning" and "PCOMS" in fell.source
    assert fell.fell(38.2, 37.2, 40) and not fell.fell(38.2, 37.3, 40)  # at the cut, and just beside it


def test_hand_worked_total() -> None:
    result = SRS.run_scoring(answers(9.5, 8.7, 9.2, 9.0))
    # 9.5 + 8.7 + 9.2 + 9.0 = 36.4: not below 36; goals_topics 8.7 < 9 raises the item flag only
    assert result.scores == {"total": pytest.approx(36.4)}
    assert {f.code for f in result.flags} == {"item_below_9"}


def test_all_minimum_is_zero_not_missing() -> None:
    zeros = answers(0, 0, 0, 0)
    assert SRS.validate(zeros, complete=True) == []  # 0 counts as an answer
    result = SRS.run_scoring(zeros)
    assert result.scores == {"total": 0.0}  # a real total, not null
    assert {f.code for f in result.flags} == {"total_below_36", "item_below_9"}


def test_a_single_zero_counts() -> None:
    # 10 + 10 + 0 + 10 = 30; a complete submission, while leaving the item out is not
    r = answers(10, 10, 0, 10)
    assert SRS.validate(r, complete=True) == []
    assert SRS.run_scoring(r).scores == {"total": 30.0}
    assert ("items.approach", "required") in SRS.validate(Responses(items={"relationship": 10}), complete=True)


def test_all_maximum() -> None:
    result = SRS.run_scoring(answers(10, 10, 10, 10))
    assert result.scores == {"total": 40.0}  # 4 * 10
    assert result.flags == ()


def test_total_exactly_at_the_cut_and_just_below() -> None:
    assert flags(9, 9, 9, 9) == set()  # total 36 is not below 36; no item below 9
    # 9 + 9 + 9 + 8.9 = 35.9 < 36, and 8.9 < 9
    assert flags(9, 9, 9, 8.9) == {"total_below_36", "item_below_9"}


def test_total_of_exactly_36_from_decimals_is_not_below_36() -> None:
    # 8.6 + 9.7 + 9.9 + 7.8 = 36.0 exactly in decimal (86 + 97 + 99 + 78 = 360 tenths); summed as binary
    # floats it comes to 35.99999999999999, which must not raise the total flag
    result = SRS.run_scoring(answers(8.6, 9.7, 9.9, 7.8))
    assert result.scores["total"] == 36.0
    assert {f.code for f in result.flags} == {"item_below_9"}  # 8.6 and 7.8 are below 9


def test_item_exactly_at_the_floor_and_just_below() -> None:
    assert flags(9, 10, 10, 10) == set()  # 9 is not below 9; total 39
    assert flags(8.9, 10, 10, 10) == {"item_below_9"}  # total 38.9 is fine
    for key in KEYS:
        values = {**dict.fromkeys(KEYS, 10.0), key: 8.9}
        assert {f.code for f in SRS.run_scoring(Responses(items=values)).flags} == {"item_below_9"}


def test_validation_names_item_and_range() -> None:
    complete = dict.fromkeys(KEYS, 9)
    for bad in (10.1, -0.1, 11):
        problems = SRS.validate(Responses(items={**complete, "approach": bad}), complete=True)
        assert problems == [("items.approach", "expected a value from 0 to 10")]
    two_decimals = SRS.validate(Responses(items={**complete, "overall": 9.55}), complete=True)
    assert two_decimals == [("items.overall", "expected a value from 0 to 10 in steps of 0.1")]
    unknown = SRS.validate(Responses(items={**complete, "total": 36}), complete=True)
    assert unknown == [("items.total", "srs 1.0 has no item 'total'")]
    assert SRS.validate(Responses(items={**complete, "relationship": True}), complete=True) == [
        ("items.relationship", "expected a number")
    ]
