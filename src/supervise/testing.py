"""Helpers for plugin authors: check a rubric against the contract, at its edges and property-based.

In your plugin's tests::

    from supervise.testing import check_rubric
    from my_package import supervise_rubrics

    def test_my_rubrics_keep_the_contract():
        for rubric in supervise_rubrics():
            check_rubric(rubric)

:func:`check_rubric` fails (``AssertionError``) when the declaration is invalid (what the server would refuse
at start), or when scoring a valid response (complete, or a draft's partial one) raises, returns what the
server would refuse to store, disagrees with the declaration (subscales and total, flags of thresholds) or
is not deterministic; and when an invalid response is not rejected. It tries fixed edge cases first
(:mod:`supervise.rubrics.edges`), then responses hypothesis generates, derandomised: a fault found once is
found again on every run, with the same message::

    crash@1: score raised ZeroDivisionError('float division by zero') (all maximum) for Responses(...)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from supervise.rubrics.edges import edge_cases
from supervise.rubrics.model import (
    COUNT_LIMIT,
    BooleanScale,
    CountScale,
    Item,
    OrdinalScale,
    Responses,
    Result,
    Rubric,
    SegmentResponses,
    Value,
    apply_thresholds,
    standard_scoring,
)
from supervise.rubrics.registry import check_result, validate_rubric

__all__ = ["check_rubric", "invalid_responses", "valid_responses"]


def _value(item: Item) -> st.SearchStrategy[Value]:
    scale = item.scale
    if isinstance(scale, BooleanScale):
        return st.booleans()
    if isinstance(scale, CountScale):
        return st.integers(min_value=0, max_value=scale.max if scale.max is not None else COUNT_LIMIT)
    steps = round((scale.max - scale.min) / scale.step)
    points = st.integers(min_value=0, max_value=steps).map(lambda n: round(scale.min + n * scale.step, 9))
    return points.map(lambda v: int(v) if float(v).is_integer() and float(scale.step).is_integer() else v)


def _values(rubric: Rubric, level: str, *, complete: bool) -> st.SearchStrategy[dict[str, Value]]:
    items = [item for item in rubric.items if item.level == level]
    required = {i.key: _value(i) for i in items if i.required and complete}
    optional = {i.key: _value(i) for i in items if not (i.required and complete)}
    return st.fixed_dictionaries(required, optional=optional)


def valid_responses(rubric: Rubric, *, complete: bool = True) -> st.SearchStrategy[Responses]:
    """Valid responses, segments in time order. ``complete``: every required item (optional ones sometimes)
    and at least one segment, as a submission; otherwise any item may be missing and segments may be none,
    as a draft (what ``/score?partial=true`` accepts)."""
    session = _values(rubric, "session", complete=complete)
    if rubric.unit == "session":
        return session.map(lambda items: Responses(items=items))
    length = rubric.segment_ms or 300_000
    segments = st.lists(_values(rubric, "segment", complete=complete), min_size=int(complete), max_size=8).map(
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


def _disagreements(rubric: Rubric, responses: Responses, result: Result) -> list[str]:
    """Where a result contradicts its rubric's declaration: subscales and the total are what ``subscales`` and
    ``total`` say (``standard_scoring``'s, exactly: a total of 35.99999999999999 misses a cut at 36), and the
    flags of thresholds are those the thresholds raise over the result's own scores."""
    declared = standard_scoring(rubric, responses).scores
    faults = [
        f"score '{key}' = {result.scores[key]!r}, but its declaration gives {value!r}"
        for key in [*(s.key for s in rubric.subscales), *(["total"] if rubric.total else [])]
        if (value := declared[key]) != result.scores[key]
    ]
    expected = sorted(str(flag.threshold) for flag in apply_thresholds(rubric, responses, result.scores))
    raised = sorted(flag.threshold for flag in result.flags if flag.threshold is not None)
    if raised != expected:
        faults.append(f"flags from thresholds {raised}, but its thresholds over its scores raise {expected}")
    return faults


def _check(rubric: Rubric, case: str, responses: Responses, *, complete: bool) -> None:
    """Score ``responses`` as the host does (validate, score, check the result before storing it), and more:
    the result agrees with the declaration, and scoring again gives the same result."""
    name = f"{rubric.key}@{rubric.version}"
    where = f"({case}) for {responses!r}"
    if problems := rubric.validate(responses, complete=complete):
        listed = "; ".join(f"{field}: {message}" for field, message in problems)
        raise AssertionError(f"{name}: supervise.testing built responses the rubric rejects, {listed} {where}")
    try:
        first = rubric.run_scoring(responses)
    except Exception as exc:
        raise AssertionError(f"{name}: score raised {exc!r} {where}") from exc
    if faults := check_result(rubric, first) or _disagreements(rubric, responses, first):
        raise AssertionError(f"{name}: {'; '.join(faults)} {where}")
    try:
        second = rubric.run_scoring(responses)
    except Exception as exc:
        raise AssertionError(f"{name}: score raised {exc!r} when scored again {where}") from exc
    if second != first:
        raise AssertionError(f"{name}: scoring is not deterministic, {first} then {second} {where}")


_GENERATED = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,  # the same examples on every run: a fault found once is found again
    database=None,  # nothing to keep between runs, and no file written into the plugin's checkout
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    report_multiple_bugs=False,  # one AssertionError, the simplest example's
    print_blob=False,
    suppress_health_check=list(HealthCheck),
)


def _run(test: Callable[[], None], name: str, case: str) -> None:
    """Run a hypothesis test; whatever hypothesis itself raises (a fault it could not reproduce: scoring that
    is not deterministic) becomes an AssertionError naming the rubric and the case too."""
    try:
        test()
    except AssertionError:
        raise
    except Exception as exc:
        raise AssertionError(f"{name}: {exc!r} ({case})") from exc


def check_rubric(rubric: Rubric, *, max_examples: int = 200) -> None:
    """Assert that ``rubric`` keeps the plugin contract (see the module docstring). ``max_examples`` responses
    are generated for each of: complete responses, drafts, and invalid responses."""
    name = f"{rubric.key}@{rubric.version}"
    faults = validate_rubric(rubric)
    assert not faults, f"{name} is invalid: {'; '.join(faults)}"
    rubric.checksum()  # the definition must serialise

    for case, responses, complete in edge_cases(rubric):
        _check(rubric, case, responses, complete=complete)

    each = settings(_GENERATED, max_examples=max_examples)

    @each
    @given(valid_responses(rubric))
    def scores_valid_input(responses: Responses) -> None:
        _check(rubric, "generated", responses, complete=True)

    @each
    @given(valid_responses(rubric, complete=False))
    def scores_drafts(responses: Responses) -> None:
        _check(rubric, "generated draft", responses, complete=False)

    @each
    @given(invalid_responses(rubric))
    def rejects_invalid_input(responses: Responses) -> None:
        assert rubric.validate(responses, complete=True), f"{name}: accepted invalid responses {responses!r}"

    _run(scores_valid_input, name, "generated")
    _run(scores_drafts, name, "generated draft")
    _run(rejects_invalid_input, name, "generated invalid")
