"""The hooks a rubric plugin implements (pluggy, project name ``supervise``).

Every hook here is called by the host in exactly one place (:mod:`supervise.rubrics.registry`). Hooks are
synchronous and must not do I/O: they are called once, when the server starts.
"""

from __future__ import annotations

import pluggy

from supervise.rubrics.model import Rubric

__all__ = ["PROJECT", "hookimpl", "hookspec", "supervise_rubrics"]

PROJECT = "supervise"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
"""Mark your implementation: ``@hookimpl`` above ``def supervise_rubrics() -> list[Rubric]``."""


@hookspec
def supervise_rubrics() -> list[Rubric]:  # type: ignore[empty-body]
    """Return the rubrics this plugin provides.

    Called once at server start, after the plugin's module is imported. Return every ``(key, version)`` the
    plugin supports, old versions included: reviews keep the version they were made with forever, and a
    version dropped from the installation is then only readable from its database snapshot.

    The host validates each rubric before serving it (unique ``(key, version)``, sane scales, subscales
    and thresholds naming real items and scores, scoring that runs on a neutral response) and refuses to
    start with a message naming the plugin when one is invalid. Never change a released ``(key, version)``:
    publish a new version instead (the server refuses to start when a used definition changed).
    """
