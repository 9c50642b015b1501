"""Annotations: time-coded notes a reviewer pins to moments of the recording, on a draft."""

from __future__ import annotations

import uuid

from supervise import db, problems
from supervise.audit import service as audit
from supervise.auth.principal import Principal
from supervise.clock import utcnow
from supervise.db import Tx, new_id
from supervise.errors import Conflict, FieldError, NotFound, Unprocessable
from supervise.reviews import repository, rules
from supervise.reviews.schemas import AnnotationCreate
from supervise.reviews.tables import Annotation
from supervise.runtime import Runtime

__all__ = ["MAX_ANNOTATIONS", "create_annotation", "delete_annotation", "list_annotations"]

MAX_ANNOTATIONS = 500
"""Per review: enough for a dense coding of a long session, small enough to list in one response."""


async def create_annotation(
    tx: Tx, runtime: Runtime, principal: Principal, review_id: uuid.UUID, data: AnnotationCreate
) -> Annotation:
    review = await rules.own_draft(tx, principal, review_id, "annotate")
    recording = await rules.recording_of(tx, review)
    errors = []
    if data.start_ms >= recording.duration_ms:
        errors.append(FieldError("start_ms", f"beyond the recording ({recording.duration_ms} ms)"))
    if data.end_ms is not None and data.end_ms <= data.start_ms:
        errors.append(FieldError("end_ms", "must be after start_ms"))
    elif data.end_ms is not None and data.end_ms > recording.duration_ms:
        errors.append(FieldError("end_ms", f"beyond the recording ({recording.duration_ms} ms)"))
    if data.item_key is not None and rules.installed(runtime, review).item(data.item_key) is None:
        errors.append(
            FieldError("item_key", f"{review.rubric_key} {review.rubric_version} has no item '{data.item_key}'")
        )
    if errors:
        raise Unprocessable(
            problems.INVALID_VALUE, "The annotation does not fit the recording or the rubric.", errors=errors
        )
    if await repository.annotation_count(tx, review.org_id, review.id) >= MAX_ANNOTATIONS:
        raise Conflict(problems.ANNOTATION_LIMIT, f"A review holds at most {MAX_ANNOTATIONS} annotations.")
    annotation = Annotation(
        id=new_id(),
        org_id=review.org_id,
        review_id=review.id,
        start_ms=data.start_ms,
        end_ms=data.end_ms,
        item_key=data.item_key,
        kind=data.kind,
        text=data.text,
        created_at=utcnow(),
    )
    await db.insert(
        tx, annotation, conflict=Conflict(problems.CONCURRENT_WRITE, "An annotation with this id exists; retry.")
    )
    await audit.record(tx, principal, "annotation.create", "review", review.id)
    return annotation


async def list_annotations(tx: Tx, principal: Principal, review_id: uuid.UUID) -> list[Annotation]:
    review = await rules.visible_review(tx, principal, review_id)
    annotations = await repository.annotations_of(tx, review.org_id, review.id)
    audit.record_read(tx, principal, "annotation.list", "review", review.id)
    return annotations


async def delete_annotation(tx: Tx, principal: Principal, review_id: uuid.UUID, annotation_id: uuid.UUID) -> None:
    review = await rules.own_draft(tx, principal, review_id, "annotate")
    annotation = await repository.get_annotation(tx, review.org_id, review.id, annotation_id)
    if annotation is None:
        raise NotFound("annotation")
    await repository.delete_annotation(tx, annotation)
    await audit.record(tx, principal, "annotation.delete", "review", review.id)
