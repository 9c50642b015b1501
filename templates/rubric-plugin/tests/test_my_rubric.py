"""Check the rubric against supervise's contract, then against examples worked by hand."""

from __future__ import annotations

from my_rubric import MY_RUBRIC, supervise_rubrics

from supervise.rubrics import Responses
from supervise.testing import check_rubric


def test_keeps_the_contract() -> None:
    for rubric in supervise_rubrics():
        check_rubric(rubric)


def test_hand_worked_example() -> None:
    result = MY_RUBRIC.run_scoring(Responses(items={"agenda": 4, "summary": 2, "empathy": 1, "repair": 0}))
    assert result.scores == {"structure": 3.0, "relationship": 0.5, "total": 7.0, "top_marks": 1.0}
    assert [flag.code for flag in result.flags] == ["below_standard"]  # 7 < 8
