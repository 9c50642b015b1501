"""The rubric model: validation of responses, standard scoring, thresholds, schemas and checksums."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest

from supervise.rubrics import (
    COUNT_LIMIT,
    BooleanScale,
    CountScale,
    Item,
    OrdinalScale,
    Responses,
    Rubric,
    SegmentResponses,
    Subscale,
    Threshold,
)

SEVEN = OrdinalScale(min=1, max=7, start=4)
RUBRIC = Rubric(
    key="demo",
    version="1",
    title="Demo",
    description="",
    citation="",
    licence="",
    manual_version="1",
    rater_roles=("supervisor",),
    items=(
        Item(key="warm", label="Warm", scale=SEVEN, subscale="bond"),
        Item(key="cold", label="Cold", scale=SEVEN, subscale="bond", reverse=True),
        Item(key="asks", label="Questions", scale=CountScale()),
        Item(key="note", label="Note", scale=BooleanScale(), required=False),
    ),
    subscales=(Subscale(key="bond", label="Bond", items=("warm", "cold")),),
    thresholds=(
        Threshold(key="low", target="bond", op="lt", value=3, severity="warning", message="low", source="test"),
        Threshold(key="floor", target="*", op="le", value=1, severity="info", message="floor", source="test"),
    ),
)


def test_reverse_keying_and_means() -> None:
    # warm 6, cold 2 reverse-keyed to 1 + 7 - 2 = 6: bond (6 + 6) / 2 = 6
    result = RUBRIC.run_scoring(Responses(items={"warm": 6, "cold": 2, "asks": 3}))
    assert result.scores == {"bond": 6.0, "total": 6.0}
    assert result.flags == ()


def test_thresholds_on_scores_and_on_every_item() -> None:
    # warm 1, cold 6 -> keyed 2: bond 1.5 < 3, and warm 1 <= 1
    result = RUBRIC.run_scoring(Responses(items={"warm": 1, "cold": 6, "asks": 0}))
    assert [(f.code, f.threshold) for f in result.flags] == [("low", "low"), ("floor", "floor")]


def test_undefined_scores_are_none_and_raise_nothing() -> None:
    result = RUBRIC.run_scoring(Responses(items={"asks": 2}))
    assert result.scores == {"bond": None, "total": None}
    assert result.flags == ()


def test_validation_names_each_fault() -> None:
    problems = RUBRIC.validate(
        Responses(items={"warm": 8, "cold": 2.5, "asks": -1, "note": 1, "mystery": 1}), complete=True
    )
    assert problems == [
        ("items.warm", "expected a value from 1 to 7"),
        ("items.cold", "expected a value from 1 to 7 in steps of 1"),
        ("items.asks", "expected a whole number of 0 or more"),
        ("items.note", "expected true or false"),
        ("items.mystery", "demo 1 has no item 'mystery'"),
    ]
    assert RUBRIC.validate(Responses(items={"warm": 4}), complete=False) == []
    assert RUBRIC.validate(Responses(items={"warm": 4}), complete=True) == [
        ("items.cold", "required"),
        ("items.asks", "required"),
    ]


def test_out_of_range_numbers_of_any_size_are_named_not_crashed_on() -> None:
    huge = 10**400  # JSON allows it; a float cannot hold it
    problems = RUBRIC.validate(Responses(items={"warm": huge, "cold": -huge, "asks": huge}), complete=False)
    assert problems == [
        ("items.warm", "expected a value from 1 to 7"),
        ("items.cold", "expected a value from 1 to 7"),
        ("items.asks", f"expected at most {COUNT_LIMIT}"),
    ]
    # a count without its own maximum stops at COUNT_LIMIT, so scores computed from counts stay finite
    assert RUBRIC.validate(Responses(items={"asks": COUNT_LIMIT}), complete=False) == []
    assert RUBRIC.validate(Responses(items={"asks": 1e308}), complete=False) == [
        ("items.asks", f"expected at most {COUNT_LIMIT}")
    ]
    assert RUBRIC.responses_schema()["properties"]["items"]["properties"]["asks"]["maximum"] == COUNT_LIMIT


def test_segments_must_be_ordered_and_belong_to_segment_rubrics() -> None:
    segmented = dataclasses.replace(
        RUBRIC,
        unit="segment",
        items=(*RUBRIC.items, Item(key="marker", label="Marker", scale=BooleanScale(), level="segment")),
    )
    base = {"warm": 4, "cold": 4, "asks": 0}
    ok = Responses(
        items=base,
        segments=(
            SegmentResponses(start_ms=0, end_ms=1000, items={"marker": True}),
            SegmentResponses(start_ms=1000, end_ms=2000, items={"marker": False}),
        ),
    )
    assert segmented.validate(ok, complete=True) == []
    overlapping = Responses(
        items=base,
        segments=(
            SegmentResponses(start_ms=0, end_ms=1000, items={"marker": True}),
            SegmentResponses(start_ms=500, end_ms=2000, items={"marker": True}),
        ),
    )
    assert ("segments[1]", "segments must be in time order and must not overlap") in segmented.validate(
        overlapping, complete=True
    )
    wrong_level = Responses(items={**base, "marker": True}, segments=ok.segments)
    assert ("items.marker", "'marker' is rated per segment, not per session") in segmented.validate(
        wrong_level, complete=True
    )
    assert ("segments", "demo is rated per session, not per segment") in RUBRIC.validate(ok, complete=False)


def test_responses_schema_matches_the_scales() -> None:
    schema = RUBRIC.responses_schema()
    items = schema["properties"]["items"]
    assert items["required"] == ["warm", "cold", "asks"]
    assert items["additionalProperties"] is False
    assert items["properties"]["warm"] == {
        "type": "number",
        "minimum": 1,
        "maximum": 7,
        "multipleOf": 1,
        "title": "Warm",
    }
    assert items["properties"]["asks"]["type"] == "integer"
    assert items["properties"]["note"]["type"] == "boolean"


def test_checksum_changes_with_the_definition_only() -> None:
    same = dataclasses.replace(RUBRIC, score=lambda r, x: r.run_scoring(x))
    assert same.checksum() == RUBRIC.checksum()
    relabelled = dataclasses.replace(
        RUBRIC, items=(msgspec.structs.replace(RUBRIC.items[0], label="Warmth"), *RUBRIC.items[1:])
    )
    assert relabelled.checksum() != RUBRIC.checksum()
    changed = dataclasses.replace(RUBRIC, thresholds=RUBRIC.thresholds[:1])
    assert changed.checksum() != RUBRIC.checksum()


@pytest.mark.parametrize("total", [36.0])
def test_sums_are_exact_at_decimal_cuts(total: float) -> None:
    scale = OrdinalScale(min=0, max=10, step=0.1)
    rubric = dataclasses.replace(
        RUBRIC,
        items=tuple(Item(key=k, label=k, scale=scale) for k in "abcd"),
        subscales=(),
        thresholds=(),
        total="sum",
    )
    result = rubric.run_scoring(Responses(items={"a": 8.6, "b": 9.7, "c": 9.9, "d": 7.8}))
    assert result.scores["total"] == total  # plain float addition gives 35.99999999999999
