"""The export reads one snapshot in pages: the pages join up to the whole, and what commits while it streams
neither shows up in it nor waits for it."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from sqlalchemy import update

from supervise.auth.principal import Principal, Role
from supervise.config import Settings
from supervise.db import Database
from supervise.exports import service
from supervise.recordings.tables import Case
from tests.aggregates.test_series import review, session
from tests.reviews.support import ITEMS, make_team
from tests.support import Org


async def _collect(chunks: object) -> bytes:
    return b"".join([chunk async for chunk in chunks])  # type: ignore[attr-defined]


def test_pages_join_up_and_a_write_meanwhile_neither_shows_nor_waits(org: Org, settings: Settings) -> None:
    team = make_team(org)
    for number, day in enumerate(("2026-03-02", "2026-03-03", "2026-03-04"), start=10):
        recording_id = session(team, number, day)
        review(team.supervisor, recording_id, dict.fromkeys(ITEMS, 4))
        review(team.therapist, recording_id, dict.fromkeys(ITEMS, 5))
    admin = Principal(uuid.UUID(org.id), uuid.UUID(org.admin.id), None, frozenset({Role.ADMIN}), None)
    query = service.ResultsQuery(dt.date(2026, 1, 1), dt.date(2026, 12, 31))

    async def run() -> tuple[bytes, bytes, bytes]:
        database = Database(settings)
        try:

            async def chunks(page_rows: int) -> object:
                async with database.transaction() as tx:
                    return await service.results_csv(tx, database, admin, query, page_rows=page_rows)

            whole = await _collect(await chunks(service.PAGE_ROWS))
            paged = aiter(await chunks(5))  # type: ignore[call-overload]
            parts = [await anext(paged), await anext(paged)]  # the header, then the first page: the snapshot is open
            async with asyncio.timeout(5), database.transaction() as tx:  # a writer does not wait for the reader
                # a change the export shows (the case's reference) that leaves the scores and their rollups
                # as they are: the session's database is verified against recomputed rollups afterwards
                await tx.execute(update(Case).where(Case.org_id == admin.org_id).values(external_ref="C-RENAMED"))
            parts += [chunk async for chunk in paged]
            after = await _collect(await chunks(service.PAGE_ROWS))
            return whole, b"".join(parts), after
        finally:
            await database.dispose()

    whole, paged, after = asyncio.run(run())
    assert whole.count(b"\r\n") == 1 + 6 * 12
    assert paged == whole  # 15 pages of 5 rows, as one read: none of the values changed meanwhile
    assert after.count(b"\r\n") == 1 + 6 * 12 and after != whole
    refs = {line.split(b",")[service.COLUMNS.index("case_ref")] for line in after.split(b"\r\n")[1:-1]}
    assert refs == {b'"C-RENAMED"'}  # free text is quoted
