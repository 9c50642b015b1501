"""Loading plugins through entry points, validating them, and refusing broken ones by name."""

from __future__ import annotations

import dataclasses

import pytest

from supervise.rubrics import Item, OrdinalScale, Responses, Result, Rubric, Subscale, hookimpl, standard_scoring
from supervise.rubrics.registry import RubricError, load_registry

FIRST_PARTY = {
    ("3rs", "2015.1"),
    ("alliance", "1.0"),
    ("alliance", "1.1"),
    ("ctrs", "1.0"),
    ("cts-r", "1.0"),
    ("miti", "4.2.1"),
    ("srs", "1.0"),
    ("wai-o-s", "1.0"),
    ("wai-sr", "1.0"),
}


def tiny(**changes: object) -> Rubric:
    rubric = Rubric(
        key="tiny",
        version="1",
        title="Tiny",
        description="A test rubric.",
        citation="none",
        licence="test",
        manual_version="1",
        rater_roles=("supervisor",),
        items=(Item(key="a", label="A", scale=OrdinalScale(min=1, max=5)),),
    )
    return dataclasses.replace(rubric, **changes)  # type: ignore[arg-type]


class Plugin:
    def __init__(self, *rubrics: Rubric) -> None:
        self.rubrics = list(rubrics)

    @hookimpl
    def supervise_rubrics(self) -> list[Rubric]:
        return self.rubrics


def test_first_party_plugins_come_through_entry_points() -> None:
    registry = load_registry()
    assert set(registry.rubrics) >= FIRST_PARTY
    names = {p.name for p in registry.plugins}
    assert {"alliance", "wai-o-s", "wai-sr", "srs", "miti", "ctrs", "3rs"} <= names
    alliance = next(p for p in registry.plugins if p.name == "alliance")
    assert alliance.distribution == "supervise-alliance"
    assert alliance.hooks == ("supervise_rubrics",)
    assert alliance.rubrics == (("alliance", "1.0"), ("alliance", "1.1"))


def test_allow_list_limits_what_loads() -> None:
    registry = load_registry(frozenset({"supervise-alliance", "supervise_miti"}))
    assert set(registry.rubrics) == {("alliance", "1.0"), ("alliance", "1.1"), ("miti", "4.2.1")}


def test_allow_list_naming_a_missing_plugin_is_refused() -> None:
    with pytest.raises(RubricError, match=r"supervise-mitti is not installed \(installed plugins: supervise-3rs, "):
        load_registry(frozenset({"supervise-alliance", "supervise-mitti"}))


def test_allow_list_naming_several_missing_plugins_reads_in_the_plural() -> None:
    with pytest.raises(RubricError, match="supervise-mitti, supervise-srss are not installed"):
        load_registry(frozenset({"supervise-srss", "supervise-mitti"}))


def test_allow_list_naming_an_entry_point_hints_at_its_distribution() -> None:
    with pytest.raises(RubricError, match="'miti' is a plugin's entry point: name its distribution, supervise-miti"):
        load_registry(frozenset({"miti"}))


def test_allow_list_naming_an_installed_package_that_is_no_plugin_says_so() -> None:
    with pytest.raises(RubricError, match="msgspec is installed but is not a supervise plugin"):
        load_registry(frozenset({"msgspec", "supervise-alliance"}))


def test_a_plugin_without_hooks_is_refused() -> None:
    class Forgot:
        def supervise_rubrics(self) -> list[Rubric]:  # no @hookimpl
            return [tiny()]

    with pytest.raises(RubricError, match="plugin 'forgot' implements no hook"):
        load_registry(frozenset(), extra=[("forgot", Forgot())])


def test_injected_plugin_is_served_and_latest_version_wins() -> None:
    registry = load_registry(frozenset(), extra=[("mine", Plugin(tiny(), tiny(version="1.10"), tiny(version="1.9")))])
    latest = registry.latest("tiny")
    assert latest is not None
    assert latest.version == "1.10"
    assert registry.versions("tiny") == ["1", "1.9", "1.10"]


@pytest.mark.parametrize(
    ("rubric", "fault"),
    [
        (tiny(key="Tiny!"), "key 'Tiny!'"),
        (tiny(items=(Item(key="a", label="A", scale=OrdinalScale(min=5, max=1)),)), "min < max"),
        (tiny(items=(Item(key="a", label="A", scale=OrdinalScale(min=1, max=5, step=3)),)), "step"),
        (tiny(subscales=(Subscale(key="s", label="S", items=("missing",)),)), "unknown item 'missing'"),
        (tiny(rater_roles=()), "rater_roles"),
        (tiny(score=lambda r, x: 1 / 0), "ZeroDivisionError"),
        (tiny(score=lambda r, x: Result(scores={"total": 99.0})), "outside 1..5"),
        (tiny(score=lambda r, x: Result(scores={})), "differ from the declared"),
        (tiny(score=lambda r, x: standard_scoring(r, x, extra={"typo": 1.0})), "'typo'] are not declared"),
        (
            tiny(
                items=(
                    Item(key="a", label="A", scale=OrdinalScale(min=1, max=5), subscale="s"),
                    Item(key="b", label="B", scale=OrdinalScale(min=1, max=5)),
                ),
                subscales=(Subscale(key="s", label="S", items=("b",)),),
            ),
            "item 'a' names subscale 's', which does not list it",
        ),
    ],
)
def test_broken_rubrics_are_refused_naming_plugin_and_fault(rubric: Rubric, fault: str) -> None:
    with pytest.raises(RubricError, match="plugin 'clinic-scale'") as error:
        load_registry(frozenset(), extra=[("clinic-scale", Plugin(rubric))])
    assert fault in str(error.value)


def test_duplicate_key_and_version_is_refused() -> None:
    with pytest.raises(RubricError, match="tiny 1 is also provided by 'first'"):
        load_registry(frozenset(), extra=[("first", Plugin(tiny())), ("second", Plugin(tiny()))])


def test_a_hook_that_raises_is_refused_by_name() -> None:
    class Exploding:
        @hookimpl
        def supervise_rubrics(self) -> list[Rubric]:
            raise RuntimeError("boom")

    with pytest.raises(RubricError, match=r"plugin 'exploding': supervise_rubrics\(\) raised RuntimeError"):
        load_registry(frozenset(), extra=[("exploding", Exploding())])


def test_scoring_runs_on_a_neutral_response_at_load() -> None:
    calls: list[Responses] = []

    def recording(rubric: Rubric, responses: Responses) -> Result:
        calls.append(responses)
        return Result(scores={"total": 3.0})

    load_registry(frozenset(), extra=[("mine", Plugin(tiny(score=recording)))])
    assert calls == [Responses(items={"a": 3})]
