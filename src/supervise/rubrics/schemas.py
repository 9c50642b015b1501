"""Rubrics and plugins out."""

from __future__ import annotations

from typing import Any

import msgspec

from supervise.rubrics.model import RubricDefinition

__all__ = ["PluginOut", "RubricOut", "RubricRef"]


class RubricOut(RubricDefinition, frozen=True, kw_only=True):
    checksum: str
    """SHA-256 of the definition: it never changes for a ``(key, version)`` once a review has used it."""
    plugin: str | None
    """The plugin that provides it; null when it is no longer installed (served from its snapshot)."""
    installed: bool
    versions: list[str]
    """Every version of this rubric known here, installed or snapshotted, oldest first."""
    responses_schema: dict[str, Any]
    """JSON Schema of a complete set of responses (what a review's submission must satisfy)."""


class RubricRef(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    version: str


class PluginOut(msgspec.Struct, kw_only=True):
    name: str
    """Entry point name."""
    distribution: str
    version: str
    hooks: list[str]
    rubrics: list[RubricRef]
