"""check_rubric, the helper plugin authors call in their tests: it finds faults hiding at the edges every
time, and says which rubric, which case and which input."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest

from supervise.errors import PluginFailure
from supervise.rubrics import (
    BooleanScale,
    Flag,
    Item,
    OrdinalScale,
    Responses,
    Result,
    Rubric,
    ScoreSpec,
    Threshold,
    standard_scoring,
)
from supervise.rubrics.registry import Registry, load_registry
from supervise.rubrics.service import score_responses
from supervise.testing import check_rubric

SEVEN = OrdinalScale(min=1, max=7, start=4)
KEYS = [f"i{n}" for n in range(1, 13)]


def _rubric(key: str, **fields: object) -> Rubric:
    base = Rubric(
        key=key,
        version="1",
        title=key,
        description="",
        citation="",
        licence="",
        manual_version="1",
        rater_roles=("supervisor",),
        items=tuple(Item(key=k, label=k, scale=SEVEN) for k in KEYS),
    )
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


def _headroom(guarded: bool) -> Rubric:
    """12 items on 1-7 and how far the ratings stay from the top: 1 / (84 - sum). Unguarded, it divides by
    zero when, and only when, every item is at its maximum."""

    def score(rubric: Rubric, responses: Responses) -> Result:
        values = [float(v) for v in responses.items.values()]
        room = 7 * len(KEYS) - math.fsum(values)
        headroom = None if len(values) < len(KEYS) or (guarded and room == 0) else 1 / room
        return standard_scoring(rubric, responses, extra={"headroom": headroom})

    spec = ScoreSpec(key="headroom", label="Headroom", min=0, max=1)
    return _rubric("crash", scores=(spec,), score=score)


WEIGHTS = (1.0, 1.0, 0.9, 0.8, 0.7, 0.6)
"""Weights for the first six segments: a rubric that forgets the seventh weighs it NaN."""


def _weighted(guarded: bool) -> Rubric:
    """A segment rubric: a marker per segment, and the markers weighted by position. Unguarded, the seventh
    segment's weight is NaN, and so is the score of every response with 7 or more segments."""

    def weight(n: int) -> float:
        return WEIGHTS[n] if n < len(WEIGHTS) else (0.5 if guarded else math.nan)

    def score(rubric: Rubric, responses: Responses) -> Result:
        segments = responses.segments
        marked = math.fsum(weight(n) * bool(s.items.get("marker")) for n, s in enumerate(segments))
        return standard_scoring(rubric, responses, extra={"weighted": marked / len(segments) if segments else None})

    return _rubric(
        "segments",
        unit="segment",
        segment_ms=60_000,
        items=(
            Item(key="marker", label="Marker", scale=BooleanScale(), level="segment"),
            Item(key="overall", label="Overall", scale=SEVEN),
        ),
        scores=(ScoreSpec(key="weighted", label="Weighted markers", min=0, max=1),),
        score=score,
    )


LOW = Threshold(key="low", target="total", op="lt", value=36, severity="warning", message="low", source="test")


def _cut(correct: bool) -> Rubric:
    """Four items on 0-10 summed, flagged below 36. The faulty one raises the flag with <=: wrong exactly at 36
    and nowhere else."""

    def score(rubric: Rubric, responses: Responses) -> Result:
        result = standard_scoring(rubric, responses)
        total = result.scores["total"]
        if correct or total is None or total != 36:
            return result
        flag = Flag(code="low", severity="warning", message="low", threshold="low")
        return Result(scores=result.scores, flags=(*result.flags, flag))

    ten = OrdinalScale(min=0, max=10)
    return _rubric(
        "cut",
        items=tuple(Item(key=k, label=k, scale=ten) for k in KEYS[:4]),
        total="sum",
        thresholds=(LOW,),
        score=score,
    )


def test_a_crash_only_when_every_item_is_at_its_maximum_is_found_every_time() -> None:
    everything_at_max = Responses(items=dict.fromkeys(KEYS, 7))
    expected = (
        f"crash@1: score raised ZeroDivisionError('float division by zero') (all maximum) for {everything_at_max!r}"
    )
    for _ in range(3):
        with pytest.raises(AssertionError) as raised:
            check_rubric(_headroom(guarded=False))
        assert str(raised.value) == expected


def test_nan_from_a_seven_segment_response_is_found() -> None:
    with pytest.raises(AssertionError, match=r"^segments@1: score 'weighted' is nan, not a finite number or null") as e:
        check_rubric(_weighted(guarded=False))
    assert "(7 segments at minimum)" in str(e.value)
    assert str(e.value).count("SegmentResponses(") == 7


def test_a_wrong_flag_exactly_at_a_cut_is_found() -> None:
    with pytest.raises(AssertionError) as raised:
        check_rubric(_cut(correct=False))
    message = str(raised.value)
    assert message.startswith("cut@1: flags from thresholds ['low'], but its thresholds over its scores raise []")
    assert "(staircase at cut 36 of total)" in message
    items = re.search(r"items=\{(.*?)\}", message)
    assert items is not None
    assert sum(int(v) for v in re.findall(r": (\d+)", items.group(1))) == 36


@pytest.mark.parametrize("rubric", [_headroom(guarded=True), _weighted(guarded=True), _cut(correct=True)])
def test_a_correct_rubric_passes(rubric: Rubric) -> None:
    check_rubric(rubric)


REGISTRY = load_registry()


def test_the_first_party_plugins_are_all_checked() -> None:
    installed = {plugin.distribution for plugin in REGISTRY.plugins}
    first_party = {"alliance", "wai-o-s", "wai-sr", "srs", "miti", "ctrs", "3rs"}
    assert {f"supervise-{name}" for name in first_party} <= installed


@pytest.mark.parametrize("ident", sorted(REGISTRY.rubrics), ids="@".join)
def test_every_first_party_rubric_passes(ident: tuple[str, str]) -> None:
    check_rubric(REGISTRY.rubrics[ident])


def _rare() -> Rubric:
    """Raises for one combination of two items that no fixed case builds: only generated responses find it."""

    def score(rubric: Rubric, responses: Responses) -> Result:
        if responses.items.get("i1") == 2 and responses.items.get("i2") == 6:
            raise KeyError("i13")
        return standard_scoring(rubric, responses)

    return _rubric("rare", items=tuple(Item(key=k, label=k, scale=SEVEN) for k in KEYS[:4]), score=score)


def test_a_fault_found_by_generated_responses_is_found_again_with_the_same_message() -> None:
    messages = []
    for _ in range(2):
        with pytest.raises(AssertionError) as raised:
            check_rubric(_rare())
        messages.append(str(raised.value))
    assert messages[0] == messages[1]
    assert messages[0].startswith("rare@1: score raised KeyError('i13') (generated) for Responses(items={")
    assert "'i1': 2, 'i2': 6" in messages[0]


def test_drafts_are_held_to_what_the_preview_of_a_draft_needs() -> None:
    """The host scores partial responses for ``/score?partial=true``; a rubric that crashes on them makes the
    preview of a draft fail, so check_rubric fails it too."""

    def score(rubric: Rubric, responses: Responses) -> Result:
        return standard_scoring(rubric, responses, extra={"first": float(responses.items["i1"])})

    rubric = _rubric("draft", scores=(ScoreSpec(key="first", label="First", min=1, max=7),), score=score)
    with pytest.raises(AssertionError) as raised:
        check_rubric(rubric)
    assert (
        str(raised.value)
        == "draft@1: score raised KeyError('i1') (no items answered) for Responses(items={}, segments=())"
    )

    registry = Registry(rubrics={("draft", "1"): rubric}, owners={("draft", "1"): "test"})
    with pytest.raises(PluginFailure):
        score_responses(registry, "draft", "1", Responses(), complete=False)
