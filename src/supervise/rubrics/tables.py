"""Snapshots of rubric definitions, taken the first time a ``(key, version)`` is used.

Installation-wide rather than per organisation: a definition is the public structure of an instrument,
not any clinic's data, and every organisation's reviews must read the same definition.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from supervise.clock import utcnow
from supervise.db import Base, UTCDateTime

__all__ = ["Pinned", "RubricSnapshot", "UsesRubric"]


@dataclass(frozen=True, slots=True)
class Pinned:
    """A rubric version as the rows that use one name it (their ``rubric`` in the API)."""

    key: str
    version: str


class UsesRubric:
    """A row that names the rubric version it was made with."""

    rubric_key: Mapped[str] = mapped_column(String(64))
    rubric_version: Mapped[str] = mapped_column(String(32))

    @property
    def rubric(self) -> Pinned:
        return Pinned(self.rubric_key, self.rubric_version)


class RubricSnapshot(Base):
    __tablename__ = "rubric_snapshots"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    checksum: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    plugin: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
