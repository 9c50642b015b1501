"""The periods rollups are kept by (day, ISO week, month, all time) and the instants that bound them."""

from __future__ import annotations

import datetime as dt

from supervise.scores.tables import RollupDay, RollupMonth, RollupTotal, RollupWeek

__all__ = ["PERIODS", "ROLLUPS", "Period", "Rollup", "day_after", "period_end", "period_start"]

Period = type[RollupDay] | type[RollupWeek] | type[RollupMonth]
Rollup = Period | type[RollupTotal]
PERIODS: tuple[Period, ...] = (RollupDay, RollupWeek, RollupMonth)
ROLLUPS: tuple[Rollup, ...] = (*PERIODS, RollupTotal)


def period_start(table: Rollup, day: dt.date) -> dt.date:
    """The first day of the period of ``table`` that holds ``day``."""
    if table is RollupWeek:
        return day - dt.timedelta(days=day.weekday())
    if table is RollupMonth:
        return day.replace(day=1)
    return day


def period_end(table: Rollup, start: dt.date) -> dt.date:
    """The last day of the period of ``table`` that starts on ``start`` (cut at the last representable day)."""
    try:
        if table is RollupWeek:
            return start + dt.timedelta(days=6)
        if table is RollupMonth:
            following = (
                start.replace(year=start.year + 1, month=1)
                if start.month == 12
                else start.replace(month=start.month + 1)
            )
            return following - dt.timedelta(days=1)
    except (OverflowError, ValueError):
        return dt.date.max
    return start


def day_after(day: dt.date) -> dt.date | None:
    return None if day == dt.date.max else day + dt.timedelta(days=1)
