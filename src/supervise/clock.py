"""The one clock. Everything that needs the time asks :func:`utcnow`; tests move it with ``time-machine``."""

from __future__ import annotations

import datetime as dt

__all__ = ["utcnow"]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
