"""``/v1/cases`` and ``/v1/recordings``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from supervise.aggregates import service as aggregates
from supervise.auth import permissions
from supervise.auth.principal import Principal
from supervise.db import utcnow
from supervise.http import create_once, problem_responses
from supervise.idempotency.service import StoredResponse
from supervise.pagination import DEFAULT_LIMIT, PageRequest
from supervise.parameters import ETAG, LOCATION, Cursor, IdempotencyKey, IfMatch, Instant, Limit, instant
from supervise.preconditions import etag
from supervise.recordings import service
from supervise.recordings.schemas import (
    CaseCreate,
    CaseOut,
    CasePage,
    ConsentOut,
    MediaRef,
    RecordingCreate,
    RecordingOut,
    RecordingPage,
    RecordingUpdate,
)
from supervise.recordings.tables import Case, Recording
from supervise.runtime import Runtime

__all__ = ["CaseController", "RecordingController"]


def case_out(case: Case) -> CaseOut:
    return CaseOut(
        id=case.id, therapist_id=case.therapist_id, external_ref=case.external_ref, created_at=case.created_at
    )


def recording_out(recording: Recording) -> RecordingOut:
    return RecordingOut(
        id=recording.id,
        case_id=recording.case_id,
        therapist_id=recording.therapist_id,
        occurred_at=recording.occurred_at,
        session_number=recording.session_number,
        duration_ms=recording.duration_ms,
        medium=recording.medium,  # type: ignore[arg-type]
        media=MediaRef(uri=recording.media_uri, sha256=recording.media_sha256),
        consent=ConsentOut(
            scope=recording.consent_scope,  # type: ignore[arg-type]
            expires_at=recording.consent_expires_at,
            withdrawn_at=recording.consent_withdrawn_at,
            active=service.consent_active(recording),
        ),
        external_id=recording.external_id,
        version=recording.version,
        created_at=recording.created_at,
        updated_at=recording.updated_at,
    )


class CaseController(Controller):
    path = "/v1/cases"
    tags = ["Recordings"]

    @post(
        "/",
        operation_id="createCase",
        permission=permissions.RecordingsWrite,
        summary="Add a case (a pseudonymous therapist-client dyad)",
        description="By the therapist or an admin. `external_ref` is the clinic's pseudonymous client "
        "reference (no spaces, so no names); the recordings of one case form its alliance trajectory.",
        status_code=201,
        response_headers=[LOCATION],
        responses=problem_responses(400, 401, 403, 409, 422),
    )
    async def create_case(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[CaseCreate],
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[CaseOut]:
        async def create() -> StoredResponse:
            case = await service.create_case(tx, principal, data)
            return StoredResponse(201, msgspec.json.encode(case_out(case)), f"/v1/cases/{case.id}")

        return await create_once(request, data, tx, principal, idempotency_key, create)

    @get(
        "/",
        operation_id="listCases",
        permission=permissions.RecordingsRead,
        summary="List cases",
        description="Your own cases and your supervisees'; admins see all. Audited.",
        responses=problem_responses(400, 401, 403),
    )
    async def list_cases(
        self,
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        therapist_id: Annotated[uuid.UUID | None, QueryParameter(description="Only this therapist's cases.")] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> CasePage:
        page_request = PageRequest(
            org_id=principal.org_id, scope=f"cases?therapist={therapist_id}", cursor=cursor, limit=limit
        )
        page = await service.list_cases(tx, runtime, principal, page_request, therapist_id=therapist_id)
        return CasePage(items=[case_out(c) for c in page.items], next_cursor=page.next_cursor)

    @get(
        "/{case_id:uuid}",
        operation_id="getCase",
        permission=permissions.RecordingsRead,
        summary="Get a case",
        responses=problem_responses(400, 401, 403, 404),
    )
    async def get_case(
        self, case_id: FromPath[uuid.UUID], tx: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> CaseOut:
        return case_out(await service.get_case(tx, principal, case_id))


class RecordingController(Controller):
    path = "/v1/recordings"
    tags = ["Recordings"]

    @post(
        "/",
        operation_id="createRecording",
        permission=permissions.RecordingsWrite,
        summary="Register a recorded session (a reference, never the media)",
        description="By the therapist or an admin (clinic systems: an integration key with recordings:write). "
        "With an `external_id`, pushing the same recording again answers 200 with the existing resource; "
        "a different recording under the same `external_id` is 409.",
        status_code=201,
        response_headers=[LOCATION, ETAG],
        responses={
            200: ResponseSpec(data_container=RecordingOut, description="Already pushed: the existing recording."),
            **problem_responses(400, 401, 403, 409, 422),
        },
    )
    async def create_recording(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[RecordingCreate],
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[RecordingOut]:
        async def create() -> StoredResponse:
            recording, fresh = await service.create_recording(tx, principal, data)
            body = msgspec.json.encode(recording_out(recording))
            return StoredResponse(201 if fresh else 200, body, f"/v1/recordings/{recording.id}")

        return await create_once(request, data, tx, principal, idempotency_key, create)

    @get(
        "/",
        operation_id="listRecordings",
        permission=permissions.RecordingsRead,
        summary="List recordings",
        description="Your own recordings and your supervisees'; admins see all. Audited.",
        responses=problem_responses(400, 401, 403, 422),
    )
    async def list_recordings(
        self,
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        therapist_id: Annotated[uuid.UUID | None, QueryParameter(description="Only this therapist's.")] = None,
        case_id: Annotated[uuid.UUID | None, QueryParameter(description="Only this case's.")] = None,
        occurred_from: Annotated[str | None, Instant(description="Occurred at or after.")] = None,
        occurred_to: Annotated[str | None, Instant(description="Occurred before.")] = None,
        updated_since: Annotated[str | None, Instant(description="Changed at or after.")] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> RecordingPage:
        scope = f"recordings?t={therapist_id}&c={case_id}&f={occurred_from}&to={occurred_to}&u={updated_since}"
        page_request = PageRequest(org_id=principal.org_id, scope=scope, cursor=cursor, limit=limit)
        page = await service.list_recordings(
            tx,
            runtime,
            principal,
            page_request,
            therapist_id=therapist_id,
            case_id=case_id,
            occurred_from=instant(occurred_from, "occurred_from"),
            occurred_to=instant(occurred_to, "occurred_to"),
            updated_since=instant(updated_since, "updated_since"),
        )
        return RecordingPage(items=[recording_out(r) for r in page.items], next_cursor=page.next_cursor)

    @get(
        "/{recording_id:uuid}",
        operation_id="getRecording",
        permission=permissions.RecordingsRead,
        summary="Get a recording",
        response_headers=[ETAG],
        responses=problem_responses(400, 401, 403, 404),
    )
    async def get_recording(
        self,
        recording_id: FromPath[uuid.UUID],
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> Response[RecordingOut]:
        recording = await service.get_recording(tx, principal, recording_id)
        return Response(recording_out(recording), headers={"ETag": etag(recording.version)})

    @patch(
        "/{recording_id:uuid}",
        operation_id="updateRecordingConsent",
        permission=permissions.RecordingsWrite,
        summary="Change or withdraw consent",
        description="By the therapist or an admin. Withdrawal is final. Needs If-Match. Series and team views "
        "count a session only while its consent holds.",
        response_headers=[ETAG],
        responses=problem_responses(400, 401, 403, 404, 412, 422, 428),
    )
    async def update_recording(
        self,
        recording_id: FromPath[uuid.UUID],
        data: JSONBody[RecordingUpdate],
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        if_match: IfMatch = None,
    ) -> Response[RecordingOut]:
        recording = await service.update_recording(tx, principal, recording_id, data, if_match)
        # Series and team views count a session only while its consent holds: same transaction.
        await aggregates.recount(tx, recording, utcnow())
        return Response(recording_out(recording), headers={"ETag": etag(recording.version)})
