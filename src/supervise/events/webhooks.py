"""Webhook endpoints: where an organisation's events are pushed, with which secret, and what was delivered.

An endpoint has a URL (https, on a public address: :mod:`supervise.events.addresses`), the event types it
takes, an active flag and a secret (``whsec_…``, shown once). Rotating the secret keeps the previous one
signing beside the new one for :data:`ROTATION`, so a receiver can switch without losing a request. Every
event committed while an endpoint is active becomes a delivery in the same transaction
(:func:`supervise.events.service.record`); :mod:`supervise.events.delivery` sends them.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import uuid

import msgspec

from supervise import db, problems
from supervise.audit import service as audit
from supervise.auth.principal import Principal
from supervise.clock import utcnow
from supervise.db import Tx, new_id
from supervise.errors import Conflict, FieldError, NotFound, PreconditionFailed, Unprocessable
from supervise.events import repository
from supervise.events.addresses import UnsafeAddress, resolve
from supervise.events.schemas import EVENT_TYPES, WebhookEndpointCreate, WebhookEndpointUpdate
from supervise.events.tables import WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint
from supervise.pagination import Page, PageRequest
from supervise.preconditions import check_if_match
from supervise.problems import ProblemType
from supervise.runtime import Runtime

__all__ = [
    "ROTATION",
    "WebhookDelivery",
    "WebhookDeliveryAttempt",
    "WebhookEndpoint",
    "create_endpoint",
    "delete_endpoint",
    "get_delivery",
    "get_endpoint",
    "list_attempts",
    "list_deliveries",
    "list_endpoints",
    "new_secret",
    "redeliver",
    "rotate_secret",
    "update_endpoint",
]

ROTATION = dt.timedelta(hours=24)
"""How long the previous secret keeps signing after a rotation."""


def new_secret() -> str:
    """``whsec_`` and 192 random bits in base64, as Standard Webhooks' libraries read it."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _invalid(kind: ProblemType, field: str, problem: str) -> Unprocessable:
    return Unprocessable(kind, "The webhook endpoint is not valid.", errors=[FieldError(field, problem)])


async def _checked_url(runtime: Runtime, url: str) -> str:
    try:
        await resolve(url, allow_loopback=runtime.settings.webhook_allow_loopback)
    except UnsafeAddress as exc:
        raise _invalid(problems.ADDRESS_REFUSED, "url", str(exc)) from None
    return url


def _checked_types(types: list[str]) -> list[str]:
    for index, name in enumerate(types):
        if name not in EVENT_TYPES:
            raise _invalid(
                problems.INVALID_VALUE,
                f"event_types[{index}]",
                f"unknown event type {name!r} (see GET /v1/event-types)",
            )
    if len(set(types)) != len(types):
        raise _invalid(problems.INVALID_VALUE, "event_types", "each type may be given once")
    return types


async def create_endpoint(
    tx: Tx, runtime: Runtime, principal: Principal, data: WebhookEndpointCreate
) -> tuple[WebhookEndpoint, str]:
    """The endpoint and its secret (shown this once)."""
    types = _checked_types(data.event_types)
    url = await _checked_url(runtime, data.url)
    now, secret = utcnow(), new_secret()
    endpoint = WebhookEndpoint(
        id=new_id(),
        org_id=principal.org_id,
        url=url,
        description=data.description,
        event_types=types,
        active=True,
        disabled_reason=None,
        secret=secret,
        previous_secret=None,
        previous_secret_until=None,
        version=1,
        created_at=now,
        updated_at=now,
    )
    await db.insert(
        tx, endpoint, conflict=Conflict(problems.CONCURRENT_WRITE, "An endpoint with this id exists; retry.")
    )
    await audit.record(tx, principal, "webhook_endpoint.create", "webhook_endpoint", endpoint.id)
    return endpoint, secret


async def _endpoint(
    tx: Tx, principal: Principal, endpoint_id: uuid.UUID, *, for_update: bool = False
) -> WebhookEndpoint:
    endpoint = await repository.get_endpoint(tx, principal.org_id, endpoint_id, for_update=for_update)
    if endpoint is None:
        raise NotFound("webhook endpoint")
    return endpoint


async def get_endpoint(tx: Tx, principal: Principal, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = await _endpoint(tx, principal, endpoint_id)
    audit.record_read(tx, principal, "webhook_endpoint.read", "webhook_endpoint", endpoint.id)
    return endpoint


async def list_endpoints(tx: Tx, runtime: Runtime, principal: Principal, page: PageRequest) -> Page[WebhookEndpoint]:
    found = await repository.page_endpoints(tx, page, runtime.cursors)
    audit.record_read(tx, principal, "webhook_endpoint.list", "webhook_endpoint", None)
    return found


async def update_endpoint(
    tx: Tx,
    runtime: Runtime,
    principal: Principal,
    endpoint_id: uuid.UUID,
    data: WebhookEndpointUpdate,
    if_match: str | None,
) -> WebhookEndpoint:
    endpoint = await _endpoint(tx, principal, endpoint_id)
    check_if_match(if_match, endpoint.version)
    changes: dict[str, object] = {}
    if not isinstance(data.url, msgspec.UnsetType) and data.url != endpoint.url:
        changes["url"] = await _checked_url(runtime, data.url)
    if not isinstance(data.event_types, msgspec.UnsetType):
        changes["event_types"] = _checked_types(data.event_types)
    if not isinstance(data.description, msgspec.UnsetType):
        changes["description"] = data.description
    if not isinstance(data.active, msgspec.UnsetType) and data.active != endpoint.active:
        changes["active"] = data.active
        changes["disabled_reason"] = None if data.active else "deactivated"
    if changes:
        stale = PreconditionFailed("The endpoint changed while this update ran; read it again and retry.")
        await db.update(tx, endpoint, changes, stale=stale)
        await audit.record(tx, principal, "webhook_endpoint.update", "webhook_endpoint", endpoint.id)
    return endpoint


async def rotate_secret(
    tx: Tx, principal: Principal, endpoint_id: uuid.UUID, if_match: str | None
) -> tuple[WebhookEndpoint, str]:
    """A new secret; the current one keeps signing beside it for :data:`ROTATION`."""
    endpoint = await _endpoint(tx, principal, endpoint_id, for_update=True)
    if if_match is not None:
        check_if_match(if_match, endpoint.version)
    secret, now = new_secret(), utcnow()
    changes = {"secret": secret, "previous_secret": endpoint.secret, "previous_secret_until": now + ROTATION}
    stale = Conflict(problems.CONCURRENT_WRITE, "The endpoint changed while its secret was rotated; retry.")
    await db.update(tx, endpoint, changes, stale=stale)
    await audit.record(tx, principal, "webhook_endpoint.rotate_secret", "webhook_endpoint", endpoint.id)
    return endpoint, secret


async def delete_endpoint(tx: Tx, principal: Principal, endpoint_id: uuid.UUID) -> None:
    """The endpoint and its delivery log go; nothing more is sent to it."""
    endpoint = await _endpoint(tx, principal, endpoint_id, for_update=True)
    await repository.delete_endpoint(tx, endpoint)
    await audit.record(tx, principal, "webhook_endpoint.delete", "webhook_endpoint", endpoint_id)


async def list_deliveries(
    tx: Tx, runtime: Runtime, principal: Principal, endpoint_id: uuid.UUID, page: PageRequest
) -> Page[WebhookDelivery]:
    endpoint = await _endpoint(tx, principal, endpoint_id)
    found = await repository.page_deliveries(tx, page, runtime.cursors, endpoint.id)
    audit.record_read(tx, principal, "webhook_delivery.list", "webhook_endpoint", endpoint.id)
    return found


async def _delivery(
    tx: Tx, principal: Principal, endpoint: WebhookEndpoint, delivery_id: uuid.UUID, *, for_update: bool = False
) -> WebhookDelivery:
    delivery = await repository.get_delivery(tx, principal.org_id, endpoint.id, delivery_id, for_update=for_update)
    if delivery is None:
        raise NotFound("webhook delivery")
    return delivery


async def get_delivery(tx: Tx, principal: Principal, endpoint_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery:
    endpoint = await _endpoint(tx, principal, endpoint_id)
    delivery = await _delivery(tx, principal, endpoint, delivery_id)
    audit.record_read(tx, principal, "webhook_delivery.read", "webhook_endpoint", endpoint.id)
    return delivery


async def list_attempts(
    tx: Tx,
    runtime: Runtime,
    principal: Principal,
    endpoint_id: uuid.UUID,
    delivery_id: uuid.UUID,
    page: PageRequest,
) -> Page[WebhookDeliveryAttempt]:
    endpoint = await _endpoint(tx, principal, endpoint_id)
    delivery = await _delivery(tx, principal, endpoint, delivery_id)
    found = await repository.page_attempts(tx, page, runtime.cursors, delivery.id)
    audit.record_read(tx, principal, "webhook_delivery_attempt.list", "webhook_endpoint", endpoint.id)
    return found


async def redeliver(tx: Tx, principal: Principal, endpoint_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery:
    """Send a delivery again, now, whatever became of it (the receiver deduplicates by ``webhook-id``). Its
    attempts so far stay in its log; the next one takes the next number."""
    endpoint = await _endpoint(tx, principal, endpoint_id)
    delivery = await _delivery(tx, principal, endpoint, delivery_id, for_update=True)
    if not endpoint.active:
        raise Conflict(
            problems.ENDPOINT_DISABLED,
            "The endpoint is disabled: reactivate it (PATCH active=true), and its deliveries go out.",
        )
    if delivery.state == "pending":
        raise Conflict(problems.DELIVERY_PENDING, "This delivery is pending already; it is sent when due.")
    delivery.state, delivery.next_attempt_at = "pending", utcnow()
    await db.save(tx)
    await audit.record(tx, principal, "webhook_delivery.redeliver", "webhook_endpoint", endpoint.id)
    return delivery
