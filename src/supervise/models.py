"""Imports every domain's tables so ``Base.metadata`` is complete (for Alembic and the drift test)."""

from __future__ import annotations

from supervise.audit.tables import AuditCheckpoint, AuditEvent
from supervise.auth.tables import ApiKey
from supervise.cache import OrgGeneration
from supervise.client_ratings.tables import ClientForm, ClientRating
from supervise.events.tables import Event, EventSequence, WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint
from supervise.idempotency.tables import IdempotencyRecord
from supervise.members.tables import Member, Organisation, SupervisionLink
from supervise.recordings.tables import Case, Recording
from supervise.reviews.tables import Annotation, ReferenceReview, Review, ReviewRequest
from supervise.rubrics.tables import RubricSnapshot
from supervise.scores.tables import (
    ConsentSweep,
    ReviewFlag,
    ReviewScore,
    RollupDay,
    RollupMonth,
    RollupTotal,
    RollupWeek,
)

__all__ = [
    "Annotation",
    "ApiKey",
    "AuditCheckpoint",
    "AuditEvent",
    "Case",
    "ClientForm",
    "ClientRating",
    "ConsentSweep",
    "Event",
    "EventSequence",
    "IdempotencyRecord",
    "Member",
    "OrgGeneration",
    "Organisation",
    "Recording",
    "ReferenceReview",
    "Review",
    "ReviewFlag",
    "ReviewRequest",
    "ReviewScore",
    "RollupDay",
    "RollupMonth",
    "RollupTotal",
    "RollupWeek",
    "RubricSnapshot",
    "SupervisionLink",
    "WebhookDelivery",
    "WebhookDeliveryAttempt",
    "WebhookEndpoint",
]
