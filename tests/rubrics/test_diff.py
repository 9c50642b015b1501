"""The field-level diff that ``rubrics check`` and the startup refusal print."""

from __future__ import annotations

import dataclasses

import msgspec
import msgspec.structs

from supervise.rubrics import CountScale, Item
from supervise.rubrics.diff import definition_diff
from tests.rubrics.test_registry import tiny


def builtins(rubric: object) -> dict[str, object]:
    return msgspec.to_builtins(rubric.definition())  # type: ignore[attr-defined,no-any-return]


def test_a_changed_scale_is_named_by_item_key_and_field() -> None:
    old = tiny()
    item = old.items[0]
    scale = msgspec.structs.replace(item.scale, max=20)
    new = dataclasses.replace(old, items=(msgspec.structs.replace(item, scale=scale),))
    assert definition_diff(builtins(old), builtins(new)) == [
        "items.a.scale.max: 5 → 20",
        "scores.total.max: 5 → 20",  # the declared range of what it computes follows
    ]


def test_an_added_item_is_one_line_not_every_later_item() -> None:
    old = tiny()
    extra = Item(key="drift", label="Drift", scale=CountScale(max=7))
    new = dataclasses.replace(old, items=(extra, *old.items))
    lines = definition_diff(builtins(old), builtins(new))
    assert len(lines) == 1, lines
    assert lines[0].startswith('items.drift: (absent) → {"help": "", "key": "drift"')


def test_reordered_items_say_so() -> None:
    two = tiny(items=(*tiny().items, Item(key="b", label="B", scale=CountScale(max=7))))
    swapped = dataclasses.replace(two, items=tuple(reversed(two.items)))
    assert definition_diff(builtins(two), builtins(swapped)) == ['items (order): ["a", "b"] → ["b", "a"]']


def test_the_same_definition_has_no_diff() -> None:
    assert definition_diff(builtins(tiny()), builtins(tiny())) == []
