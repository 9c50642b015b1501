"""Refused attempts, coalesced: a key refused again and again must not grow an append-only log by a row each.

Within one window (``SUPERVISE_AUDIT_DENIAL_WINDOW_SECONDS``, 60 by default, fixed, per worker process):

- the first refusal of a kind — the same organisation, key, member, action, resource and source address — is
  written before its 403 leaves, as every refusal was before;
- its repeats are only counted, and when the window closes they are written as one event whose ``count`` is
  their number and whose time, request id and address are the last repeat's;
- a key gets at most :data:`DISTINCT_PER_KEY` kinds written at once per window; past that (a scan of ever new
  ids) its refusals are counted per action, without a resource.

So one key hammering one refusal writes at most two events per window and worker, and a scan at most
:data:`DISTINCT_PER_KEY` plus two per action. The repeats counted in a window are written when the worker
stops, too; a worker killed (``kill -9``) loses at most one window's counts, never a first refusal. The
refused requests themselves count against the key's rate limits (:mod:`supervise.throttle`) like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from supervise.audit import repository
from supervise.audit.chain import NewEvent
from supervise.db import Database, new_id

__all__ = ["DISTINCT_PER_KEY", "Denials"]

_log = logging.getLogger("supervise.audit")

DISTINCT_PER_KEY = 20
"""Kinds of refusal one key gets written at once per window; the rest are counted per action."""

_Kind = tuple[uuid.UUID, uuid.UUID | None, uuid.UUID | None, str, uuid.UUID | None, str | None]


def _kind(event: NewEvent) -> _Kind:
    return (
        event.org_id,
        event.api_key_id,
        event.actor_member_id,
        event.action,
        event.resource_id,
        event.source_address,
    )


class Denials:
    """One per application: which refusals this window has written, and the repeats it has counted."""

    def __init__(self, db: Database, window_seconds: float) -> None:
        self._db = db
        self._window = window_seconds
        self._written: set[_Kind] = set()
        self._per_key: dict[tuple[uuid.UUID, uuid.UUID | None], int] = {}
        self._repeats: dict[_Kind, NewEvent] = {}
        self._closer: asyncio.Task[None] | None = None

    def admit(self, event: NewEvent) -> bool:
        """True: write ``event`` now, it is the first of its kind this window. False: it was counted instead,
        to be written with its kind's other repeats when the window closes."""
        kind = _kind(event)
        if kind not in self._written:
            key = (event.org_id, event.api_key_id or event.actor_member_id)  # a token's member: per member
            kinds = self._per_key.get(key, 0)
            if kinds < DISTINCT_PER_KEY:
                self._per_key[key] = kinds + 1
                self._written.add(kind)
                return True
            event.resource_id = None  # past the key's distinct kinds: counted per action
            kind = _kind(event)
        held = self._repeats.get(kind)
        event.count = 1 + (held.count if held is not None else 0)
        self._repeats[kind] = event  # the latest repeat stands for them all
        return False

    async def flush(self) -> None:
        """Close the window: write the repeats counted in it, one event per kind, and open the next. Repeats
        that could not be written are counted into the next window's."""
        repeats, self._repeats = self._repeats, {}
        self._written.clear()
        self._per_key.clear()
        by_org: dict[uuid.UUID, list[NewEvent]] = {}
        for event in repeats.values():
            by_org.setdefault(event.org_id, []).append(event)
        for org, events in by_org.items():
            events.sort(key=lambda event: event.created_at)
            try:
                async with self._db.engine.begin() as connection:  # Core only, as the read log
                    await repository.append(connection, org, events)
            except Exception:
                _log.exception("%d coalesced refusals could not be written; kept for the next window", len(events))
                for event in events:
                    # A new id: had the write committed with only its answer lost, the old id would refuse
                    # every later attempt. The cost of that rare case is its repeats counted twice, not lost.
                    event.id = new_id()
                    held = self._repeats.setdefault(_kind(event), event)
                    if held is not event:
                        held.count += event.count

    def start(self) -> None:
        """Close a window every ``window_seconds`` from now on, on the running loop."""
        self._closer = asyncio.get_running_loop().create_task(self._close_windows())

    async def _close_windows(self) -> None:
        while True:
            await asyncio.sleep(self._window)
            await self.flush()

    async def close(self) -> None:
        """Stop closing windows, and write what the current one counted."""
        if self._closer is not None:
            self._closer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._closer
            self._closer = None
        await self.flush()
