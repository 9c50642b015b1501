"""Helpers for plugin authors: check a rubric against the contract, property-based.

In your plugin's tests::

    from supervise.testing import check_rubric
    from my_package import supervise_rubrics

    def test_my_rubrics_keep_the_contract():
        for rubric in supervise_rubrics():
            check_rubric(rubric)

:func:`check_rubric` fails (``AssertionError``) with a message naming the rubric when the declaration is
invalid (what the server would refuse at start), or when hypothesis finds responses for which scoring is
not deterministic, raises on valid input, returns scores outside their declared ranges or undeclared, or
raises flags that name no threshold; and it checks that invalid responses are rejected by validation.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supervise.rubrics.model import (
    BooleanScale,
    CountScale,
    Item,
    OrdinalScale,
    Responses,
    Rubric,
    SegmentResponses,
    Value,
)
from supervise.rubrics.registry import check_result, validate_rubric

__all__ = ["check_rubric", "invalid_responses", "valid_responses"]


def _value(item: Item) -> st.SearchStrategy[Value]:
    scale = item.scale
    if isinstance(scale, BooleanScale):
        return st.booleans()
    if isinstance(scale, CountScale):
        return st.integers(min_value=0, max_value=scale.max if scale.max is not None else 500)
    steps = round((scale.max - scale.min) / scale.step)
    points = st.integers(min_value=0, max_value=steps).map(lambda n: scale.min + n * scale.step)
    return points.map(lambda v: int(v) if float(v).is_integer() and float(scale.step).is_integer() else v)


def _values(rubric: Rubric, level: str, *, complete: bool) -> st.SearchStrategy[dict[str, Value]]:
    items = [item for item in rubric.items if item.level == level]
    required = {i.key: _value(i) for i in items if i.required or complete}
    optional = {i.key: _value(i) for i in items if not (i.required or complete)}
    return st.fixed_dictionaries(required, optional=optional)


def valid_responses(rubric: Rubric) -> st.SearchStrategy[Responses]:
    """Complete, valid responses: every required item (optional ones sometimes), segments in time order."""
    session = _values(rubric, "session", complete=False)
    if rubric.unit == "session":
        return session.map(lambda items: Responses(items=items))
    length = rubric.segment_ms or 300_000
    segments = st.lists(_values(rubric, "segment", complete=False), min_size=1, max_size=6).map(
        lambda values: tuple(
            SegmentResponses(start_ms=n * length, end_ms=(n + 1) * length, items=v) for n, v in enumerate(values)
        )
    )
    return st.builds(lambda items, segs: Responses(items=items, segments=segs), session, segments)


def _broken_value(item: Item) -> st.SearchStrategy[Any]:
    scale = item.scale
    if isinstance(scale, BooleanScale):
        return st.sampled_from([0, 1, 2.5])
    if isinstance(scale, CountScale):
        return st.sampled_from([-1, 0.5, True])
    assert isinstance(scale, OrdinalScale)
    return st.sampled_from([scale.min - scale.step, scale.max + scale.step, True])


def invalid_responses(rubric: Rubric) -> st.SearchStrategy[Responses]:
    """Responses with exactly one fault: an unknown item, a value off its scale, or a required item missing."""
    session_items = [i for i in rubric.items if i.level == "session"]
    base = valid_responses(rubric)
    unknown = base.map(lambda r: Responses(items={**r.items, "no_such_item_": 1}, segments=r.segments))
    faults = [unknown]
    if session_items:
        item = st.sampled_from(session_items)
        off_scale = st.tuples(base, item).flatmap(
            lambda pair: _broken_value(pair[1]).map(
                lambda bad: Responses(items={**pair[0].items, pair[1].key: bad}, segments=pair[0].segments)
            )
        )
        faults.append(off_scale)
        required = [i for i in session_items if i.required]
        if required:
            missing = st.tuples(base, st.sampled_from(required)).map(
                lambda pair: Responses(
                    items={k: v for k, v in pair[0].items.items() if k != pair[1].key}, segments=pair[0].segments
                )
            )
            faults.append(missing)
    return st.one_of(faults)


def check_rubric(rubric: Rubric, *, max_examples: int = 200) -> None:
    """Assert that ``rubric`` keeps the plugin contract (see the module docstring)."""
    name = f"{rubric.key} {rubric.version}"
    faults = validate_rubric(rubric)
    assert not faults, f"{name} is invalid: {'; '.join(faults)}"
    rubric.checksum()  # the definition must serialise

    @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(valid_responses(rubric))
    def scores_valid_input(responses: Responses) -> None:
        assert not rubric.validate(responses, complete=True), f"{name}: generated valid responses rejected"
        first = rubric.run_scoring(responses)
        problems = check_result(rubric, first)
        assert not problems, f"{name}: {'; '.join(problems)} for {responses}"
        assert rubric.run_scoring(responses) == first, f"{name}: scoring is not deterministic for {responses}"

    @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(invalid_responses(rubric))
    def rejects_invalid_input(responses: Responses) -> None:
        assert rubric.validate(responses, complete=True), f"{name}: accepted invalid responses {responses}"

    scores_valid_input()
    rejects_invalid_input()
