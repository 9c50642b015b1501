"""``/v1/events`` (the change feed) and ``/v1/event-types`` (the catalogue)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from supervise.auth import permissions
from supervise.auth.principal import Principal
from supervise.db import Tx
from supervise.events import service
from supervise.events.schemas import EventPage, EventTypeList
from supervise.http import problem_responses
from supervise.pagination import DEFAULT_LIMIT
from supervise.parameters import Limit

__all__ = ["EventController", "EventTypeController"]

After = Annotated[
    str | None,
    QueryParameter(
        pattern=r"^(0|[1-9][0-9]{0,17})$",
        description="The `next_cursor` of the previous page (an event's `seq`): only events after it. Left out: "
        "from the oldest event kept.",
    ),
]


class EventController(Controller):
    path = "/v1/events"
    tags = ["Events"]

    @get(
        "/",
        operation_id="listEvents",
        permission=permissions.EventsAdmin,
        summary="Read the change feed (clinic systems)",
        description="The organisation's events in commit order, oldest first: every event appears once, and a "
        "cursor never passes an event that commits later (each organisation's events are numbered as they "
        "commit). Poll with `after=<next_cursor>`; an empty page answers the same cursor. Events are kept for "
        "the server's retention period (30 days by default); a cursor older than the events pruned since is "
        "410 (`events-expired`): sync from the lists, then start again without `after`. Payloads hold ids "
        "only: fetch what an event is about with your key. Audited.",
        responses=problem_responses(400, 401, 403, 410),
    )
    async def list_events(
        self,
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        after: After = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> EventPage:
        found = await service.feed(tx, principal, None if after is None else int(after), limit)
        return EventPage(items=[service.envelope(e) for e in found.events], next_cursor=str(found.next_cursor))


class EventTypeController(Controller):
    path = "/v1/event-types"
    tags = ["Events"]

    @get(
        "/",
        operation_id="listEventTypes",
        permission=permissions.Authenticated,
        summary="The event catalogue",
        description="Every event type the feed serves and webhooks send, with a description and the JSON "
        "Schema of its events (the same schemas as `listEvents` in this document).",
        responses=problem_responses(401),
    )
    async def list_event_types(self, principal: NamedDependency[Principal]) -> EventTypeList:
        return EventTypeList(items=service.catalogue())
