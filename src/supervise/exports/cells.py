"""CSV as spreadsheets read it safely: RFC 4180 lines, text quoted, numbers bare, formulas defused.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula (and one starting with a
tab or a carriage return after trimming it), so a case reference a clinic typed as ``=HYPERLINK(...)`` would
run on the supervisor's machine. Per OWASP's guidance on CSV injection, every text cell that starts with one
of these characters gets a single quote in front (``'=HYPERLINK(...)``: shown, never evaluated), and every text
cell is quoted (``"``, doubled inside). Numbers are written as numbers, unquoted and never prefixed (a negative
score stays ``-1.5``). What Python's ``csv`` writer writes with ``QUOTE_NONNUMERIC``, built by hand: a row is
mostly its review's cells, encoded once per review rather than once per measure.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

__all__ = ["FORMULA_STARTS", "defused", "line", "number", "text"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet may take for the start of a formula (OWASP, CSV injection)."""


def defused(value: str) -> str:
    """``value`` as a cell no spreadsheet evaluates."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def text(value: str | uuid.UUID | dt.date | None) -> str:
    """A text cell, quoted and defused (an empty one for ``None``; an instant in UTC, ``Z``)."""
    if value is None:
        return '""'
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return '"' + defused(str(value)).replace('"', '""') + '"'


def number(value: float) -> str:
    """A number cell: bare, an integral value without a fraction (``5``, not ``5.0``)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def line(cells: Iterable[str]) -> str:
    """One CSV line of encoded cells, CRLF-terminated."""
    return ",".join(cells) + "\r\n"
