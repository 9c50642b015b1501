"""A field-level difference between two rubric definitions, as ``rubrics check`` and the startup refusal
print it: ``items.drift.scale.max: 7 → 20``.

Lists of things that have a ``key`` (items, subscales, thresholds, change rules, scores) are compared by key,
so inserting an item reads as one added item rather than every later item changed.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["ABSENT", "definition_diff"]

ABSENT = "(absent)"


def _show(value: Any) -> str:
    return ABSENT if value is _MISSING else json.dumps(value, ensure_ascii=False, sort_keys=True)


_MISSING = object()


def _keyed(values: list[Any]) -> dict[str, Any] | None:
    keys = [v.get("key") if isinstance(v, dict) else None for v in values]
    if all(isinstance(k, str) for k in keys) and len(set(keys)) == len(keys):
        return dict(zip(keys, values, strict=True))  # type: ignore[arg-type]
    return None


def _walk(path: str, old: Any, new: Any, out: list[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for name in [*old, *(k for k in new if k not in old)]:
            _walk(f"{path}.{name}" if path else str(name), old.get(name, _MISSING), new.get(name, _MISSING), out)
        return
    if isinstance(old, list) and isinstance(new, list):
        old_keyed, new_keyed = _keyed(old), _keyed(new)
        if old_keyed is not None and new_keyed is not None:
            _walk(path, old_keyed, new_keyed, out)
            if [k for k in old_keyed if k in new_keyed] != [k for k in new_keyed if k in old_keyed]:
                out.append(f"{path} (order): {_show(list(old_keyed))} → {_show(list(new_keyed))}")
            return
        if len(old) == len(new):
            for index, (a, b) in enumerate(zip(old, new, strict=True)):
                _walk(f"{path}[{index}]", a, b, out)
            return
    if old != new or type(old) is not type(new):
        out.append(f"{path}: {_show(old)} → {_show(new)}")


def definition_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """One line per field that differs between two definitions (JSON-like, as ``msgspec.to_builtins`` gives
    them, or as a snapshot stores them)."""
    out: list[str] = []
    _walk("", json.loads(json.dumps(old)), json.loads(json.dumps(new)), out)  # as stored: tuples are lists
    return out
