"""What raises a flag: thresholds on one rating, and change rules across a case's sessions, as data."""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["ChangeRule", "Flag", "Severity", "Threshold"]

Severity = Literal["info", "warning", "critical"]


class Threshold(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A cut-off as data. ``target`` is a score key (a subscale, ``total`` or a declared score), an item key,
    or ``*`` for every session-level ordinal item (a per-item floor, like CTS-R's "every item at least 2").
    A flag is raised when ``<target> <op> <value>`` holds."""

    key: str
    target: str
    op: Literal["lt", "le", "gt", "ge"]
    value: float
    severity: Severity
    message: str
    source: str
    """Where the number comes from (manual, paper, expert opinion): thresholds differ between sources."""


class ChangeRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A rule across sessions of one case, as data: raised on a rating when its ``target`` (a score key or a
    session-level item) fell since the same rater's rating of the case's previous session, by session number,
    with the same rubric version. The client of a case is one rater; a member is the same rater as
    themselves. Give exactly one of:

    - ``drop_at_least``: a fall of at least this many points (SRS: 1);
    - ``drop_share_over``: a fall of more than this share of the target's declared range (0.15 of a 1-7
      scale is 0.9 points); the target must have a bounded range.

    The flag raised carries ``key`` as its code and as its ``threshold``, and says both values. A rating
    stored late (an earlier session's, after a later one's) is compared in both directions: the later
    session's flag follows it."""

    key: str
    target: str
    drop_at_least: float | None = None
    drop_share_over: float | None = None
    severity: Severity
    message: str
    source: str
    """Where the rule comes from (a manual, a paper, a clinical convention)."""

    def fell(self, previous: float, current: float, span: float | None) -> bool:
        """Whether going from ``previous`` to ``current`` breaks the rule (``span``: the target's range)."""
        drop = previous - current
        if self.drop_at_least is not None:
            return drop >= self.drop_at_least - 1e-9  # values with one decimal: 1.0 may be 0.99999999
        assert self.drop_share_over is not None and span is not None  # checked when the plugin is loaded
        return drop > self.drop_share_over * span + 1e-9


class Flag(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    severity: Severity
    message: str
    threshold: str | None = None
    """The key of the :class:`Threshold` that raised it, if one did."""
