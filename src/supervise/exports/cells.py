"""CSV as spreadsheets read it safely: RFC 4180 lines, text quoted, numbers bare, formulas defused.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula (and one starting with a
tab or a carriage return after trimming it), so a case reference a clinic typed as ``=HYPERLINK(...)`` would
run on the supervisor's machine. Per OWASP's guidance on CSV injection, every text cell that starts with one
of these characters gets a single quote in front (``'=HYPERLINK(...)``: shown, never evaluated), and every text
cell is quoted. Numbers are written as numbers, unquoted and never prefixed (a negative score stays ``-1.5``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections.abc import Iterable, Sequence

__all__ = ["FORMULA_STARTS", "Cell", "defused", "encode_rows"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet may take for the start of a formula (OWASP, CSV injection)."""

Cell = str | int | float | uuid.UUID | dt.date | None


def defused(text: str) -> str:
    """``text`` as a cell no spreadsheet evaluates."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _cell(value: Cell) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):  # a bool is an int: say what it is
        return "true" if value else "false"
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, int):
        return value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return defused(str(value))


def encode_rows(rows: Iterable[Sequence[Cell]]) -> bytes:
    """Lines of CSV (CRLF-terminated), UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
    writer.writerows([_cell(value) for value in row] for row in rows)
    return out.getvalue().encode()
