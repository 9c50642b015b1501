"""``/v1/events`` (the change feed), ``/v1/event-types`` (the catalogue) and ``/v1/webhook-endpoints``."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from supervise.auth import permissions
from supervise.auth.principal import Principal
from supervise.db import Tx
from supervise.events import service, webhooks
from supervise.events.schemas import (
    EventPage,
    EventTypeList,
    WebhookDeliveryAttemptOut,
    WebhookDeliveryAttemptPage,
    WebhookDeliveryOut,
    WebhookDeliveryPage,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointOut,
    WebhookEndpointPage,
    WebhookEndpointUpdate,
    WebhookSecret,
)
from supervise.events.webhooks import WebhookDelivery, WebhookEndpoint
from supervise.http import Made, Once, With, problem_responses, to
from supervise.pagination import DEFAULT_LIMIT
from supervise.parameters import ETAG, LOCATION, Cursor, IfMatch, Limit, page
from supervise.preconditions import etag
from supervise.runtime import Runtime

__all__ = ["EventController", "EventTypeController", "WebhookEndpointController"]

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
        return EventPage(
            items=[service.envelope(e) for e in found.events],
            next_cursor=str(found.next_cursor),
            has_more=found.has_more,
        )


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


def _endpoint(endpoint: WebhookEndpoint) -> WebhookEndpointOut:
    return to(WebhookEndpointOut, endpoint)


def _tagged(endpoint: WebhookEndpoint) -> Response[WebhookEndpointOut]:
    return Response(_endpoint(endpoint), headers={"ETag": etag(endpoint.version)})


def _delivery(delivery: WebhookDelivery) -> WebhookDeliveryOut:
    due = delivery.next_attempt_at if delivery.state == "pending" else None
    return to(WebhookDeliveryOut, With(delivery, next_attempt_at=due))


EndpointId = Annotated[uuid.UUID, PathParameter(description="The webhook endpoint's id.")]
DeliveryId = Annotated[uuid.UUID, PathParameter(description="The delivery's id (not the event's).")]


class WebhookEndpointController(Controller):
    path = "/v1/webhook-endpoints"
    tags = ["Webhooks"]

    @post(
        "/",
        operation_id="createWebhookEndpoint",
        permission=permissions.WebhooksAdmin,
        summary="Register a webhook endpoint",
        description="Events of the listed types are pushed to the URL as they commit, signed per Standard "
        "Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`) with the endpoint's secret, which "
        "this answer shows once. The URL must be https and resolve only to public addresses (422 naming `url` "
        "otherwise; checked again at every delivery); an unknown event type is a 422 naming it.",
        status_code=201,
        response_headers=[LOCATION, ETAG],
        responses=problem_responses(400, 401, 403, 422),
    )
    async def create_webhook_endpoint(
        self,
        data: JSONBody[WebhookEndpointCreate],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        once: NamedDependency[Once],
    ) -> Response[WebhookEndpointCreated]:
        async def create() -> Made:
            endpoint, secret = await webhooks.create_endpoint(tx, runtime, principal, data)
            return Made(
                to(WebhookEndpointCreated, With(endpoint, secret=secret)),
                f"/v1/webhook-endpoints/{endpoint.id}",
                remembered=to(WebhookEndpointCreated, With(endpoint, secret=None)),  # the secret is shown once
            )

        return await once(data, create)

    @get(
        "/",
        operation_id="listWebhookEndpoints",
        permission=permissions.WebhooksRead,
        summary="List webhook endpoints",
        description="Oldest first. Secrets are never shown again.",
        responses=problem_responses(400, 401, 403),
    )
    async def list_webhook_endpoints(
        self,
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> WebhookEndpointPage:
        found = await webhooks.list_endpoints(
            tx, runtime, principal, page(principal, "webhook-endpoints", cursor, limit)
        )
        return WebhookEndpointPage(
            items=[_endpoint(e) for e in found.items], next_cursor=found.next_cursor, has_more=found.has_more
        )

    @get(
        "/{endpoint_id:uuid}",
        operation_id="getWebhookEndpoint",
        permission=permissions.WebhooksRead,
        summary="Get a webhook endpoint",
        description="Whether it is active and, if delivery stopped by itself, why (`disabled_reason`).",
        response_headers=[ETAG],
        responses=problem_responses(400, 401, 403, 404),
    )
    async def get_webhook_endpoint(
        self, endpoint_id: EndpointId, tx: NamedDependency[Tx], principal: NamedDependency[Principal]
    ) -> Response[WebhookEndpointOut]:
        return _tagged(await webhooks.get_endpoint(tx, principal, endpoint_id))

    @patch(
        "/{endpoint_id:uuid}",
        operation_id="updateWebhookEndpoint",
        permission=permissions.WebhooksAdmin,
        summary="Change a webhook endpoint, deactivate or reactivate it",
        description="URL, event types, description, `active`. Reactivating a disabled endpoint sends its "
        "pending deliveries. Needs If-Match.",
        response_headers=[ETAG],
        responses=problem_responses(400, 401, 403, 404, 412, 422, 428),
    )
    async def update_webhook_endpoint(
        self,
        endpoint_id: EndpointId,
        data: JSONBody[WebhookEndpointUpdate],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        if_match: IfMatch = None,
    ) -> Response[WebhookEndpointOut]:
        return _tagged(await webhooks.update_endpoint(tx, runtime, principal, endpoint_id, data, if_match))

    @delete(
        "/{endpoint_id:uuid}",
        operation_id="deleteWebhookEndpoint",
        permission=permissions.WebhooksAdmin,
        summary="Delete a webhook endpoint",
        description="Nothing more is sent to it; its delivery log goes with it.",
        responses=problem_responses(400, 401, 403, 404),
    )
    async def delete_webhook_endpoint(
        self, endpoint_id: EndpointId, tx: NamedDependency[Tx], principal: NamedDependency[Principal]
    ) -> None:
        await webhooks.delete_endpoint(tx, principal, endpoint_id)

    @post(
        "/{endpoint_id:uuid}/rotate-secret",
        operation_id="rotateWebhookSecret",
        permission=permissions.WebhooksAdmin,
        summary="Rotate an endpoint's signing secret",
        description="The new secret is shown once. For 24 hours every request carries two signatures, one by "
        "each secret, so a receiver switches without losing a request.",
        status_code=200,
        responses=problem_responses(400, 401, 403, 404, 409, 412, 422),
    )
    async def rotate_webhook_secret(
        self,
        endpoint_id: EndpointId,
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        once: NamedDependency[Once],
        if_match: IfMatch = None,
    ) -> Response[WebhookSecret]:
        async def rotate() -> Made:
            endpoint, secret = await webhooks.rotate_secret(tx, principal, endpoint_id, if_match)
            assert endpoint.previous_secret_until is not None
            until = endpoint.previous_secret_until
            return Made(
                WebhookSecret(secret=secret, previous_secret_until=until),
                status=200,
                remembered=WebhookSecret(secret=None, previous_secret_until=until),
            )

        return await once(None, rotate)

    @get(
        "/{endpoint_id:uuid}/deliveries",
        operation_id="listWebhookDeliveries",
        permission=permissions.WebhooksRead,
        summary="The endpoint's delivery log",
        description="Newest first: per event, its state, attempts, when the next is due, and the last "
        "attempt's status, latency and error. Every attempt of a delivery is in its log "
        "(`listWebhookDeliveryAttempts`).",
        responses=problem_responses(400, 401, 403, 404),
    )
    async def list_webhook_deliveries(
        self,
        endpoint_id: EndpointId,
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> WebhookDeliveryPage:
        request = page(principal, f"webhook-deliveries?e={endpoint_id}", cursor, limit)
        found = await webhooks.list_deliveries(tx, runtime, principal, endpoint_id, request)
        return WebhookDeliveryPage(
            items=[_delivery(d) for d in found.items], next_cursor=found.next_cursor, has_more=found.has_more
        )

    @get(
        "/{endpoint_id:uuid}/deliveries/{delivery_id:uuid}",
        operation_id="getWebhookDelivery",
        permission=permissions.WebhooksRead,
        summary="Get a delivery",
        description="Its state, attempts, when the next is due, and the last attempt's status, latency and error.",
        responses=problem_responses(400, 401, 403, 404),
    )
    async def get_webhook_delivery(
        self,
        endpoint_id: EndpointId,
        delivery_id: DeliveryId,
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
    ) -> WebhookDeliveryOut:
        return _delivery(await webhooks.get_delivery(tx, principal, endpoint_id, delivery_id))

    @get(
        "/{endpoint_id:uuid}/deliveries/{delivery_id:uuid}/attempts",
        operation_id="listWebhookDeliveryAttempts",
        permission=permissions.WebhooksRead,
        summary="A delivery's attempts",
        description="Newest first, every attempt kept (redeliveries add to the log, numbered on): when it "
        "started, the receiver's status, the latency, our error, and what followed (`retry` at `retry_at`, "
        "`succeeded`, or `disabled`). An attempt under way has no outcome yet; one whose worker died (killed "
        "mid-delivery) is completed as `worker lost` when the delivery is claimed again after its lease. "
        "Nothing of the receiver's answer but its status is kept. Pruned with the delivery.",
        responses=problem_responses(400, 401, 403, 404),
    )
    async def list_webhook_delivery_attempts(
        self,
        endpoint_id: EndpointId,
        delivery_id: DeliveryId,
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> WebhookDeliveryAttemptPage:
        request = page(principal, f"webhook-delivery-attempts?d={delivery_id}", cursor, limit)
        found = await webhooks.list_attempts(tx, runtime, principal, endpoint_id, delivery_id, request)
        return WebhookDeliveryAttemptPage(
            items=[to(WebhookDeliveryAttemptOut, a) for a in found.items],
            next_cursor=found.next_cursor,
            has_more=found.has_more,
        )

    @post(
        "/{endpoint_id:uuid}/deliveries/{delivery_id:uuid}/redeliver",
        operation_id="redeliverWebhook",
        permission=permissions.WebhooksAdmin,
        summary="Send a delivery again",
        description="Due now, with the same `webhook-id` (receivers deduplicate by it); its attempts so far "
        "stay in its log. Not while it is pending or its endpoint is disabled (409).",
        status_code=200,
        responses=problem_responses(400, 401, 403, 404, 409, 412, 422),
    )
    async def redeliver_webhook(
        self,
        endpoint_id: EndpointId,
        delivery_id: DeliveryId,
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        once: NamedDependency[Once],
        if_match: IfMatch = None,
    ) -> Response[WebhookDeliveryOut]:
        async def again() -> Made:
            return Made(_delivery(await webhooks.redeliver(tx, principal, endpoint_id, delivery_id)), status=200)

        return await once(None, again)
