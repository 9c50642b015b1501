"""``/v1/cases`` and ``/v1/recordings``."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter

from supervise.auth import permissions
from supervise.auth.principal import Principal
from supervise.db import Tx
from supervise.http import Made, Once, problem_responses, to
from supervise.pagination import DEFAULT_LIMIT
from supervise.parameters import ETAG, LOCATION, Cursor, IfMatch, Instant, Limit, instant, page
from supervise.preconditions import etag
from supervise.recordings import service
from supervise.recordings.schemas import (
    CaseCreate,
    CaseOut,
    CasePage,
    RecordingCreate,
    RecordingFilter,
    RecordingOut,
    RecordingPage,
    RecordingUpdate,
)
from supervise.runtime import Runtime

__all__ = ["CaseController", "RecordingController"]


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
        data: JSONBody[CaseCreate],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        once: NamedDependency[Once],
    ) -> Response[CaseOut]:
        async def create() -> Made:
            case = await service.create_case(tx, principal, data)
            return Made(to(CaseOut, case), f"/v1/cases/{case.id}")

        return await once(data, create)

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
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        therapist_id: Annotated[uuid.UUID | None, QueryParameter(description="Only this therapist's cases.")] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> CasePage:
        scope = f"cases?therapist={therapist_id}"
        found = await service.list_cases(
            tx, runtime, principal, page(principal, scope, cursor, limit), therapist_id=therapist_id
        )
        return to(CasePage, found)

    @get(
        "/{case_id:uuid}",
        operation_id="getCase",
        permission=permissions.RecordingsRead,
        summary="Get a case",
        responses=problem_responses(400, 401, 403, 404),
    )
    async def get_case(
        self, case_id: FromPath[uuid.UUID], tx: NamedDependency[Tx], principal: NamedDependency[Principal]
    ) -> CaseOut:
        return to(CaseOut, await service.get_case(tx, principal, case_id))


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
        data: JSONBody[RecordingCreate],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        once: NamedDependency[Once],
    ) -> Response[RecordingOut]:
        async def create() -> Made:
            pushed = await service.create_recording(tx, principal, data)
            location = f"/v1/recordings/{pushed.recording.id}"
            return Made(to(RecordingOut, pushed.recording), location, status=201 if pushed.created else 200)

        return await once(data, create)

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
        tx: NamedDependency[Tx],
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
        where = RecordingFilter(
            therapist_id=therapist_id,
            case_id=case_id,
            occurred_from=instant(occurred_from, "occurred_from"),
            occurred_to=instant(occurred_to, "occurred_to"),
            updated_since=instant(updated_since, "updated_since"),
        )
        found = await service.list_recordings(tx, runtime, principal, page(principal, scope, cursor, limit), where)
        return to(RecordingPage, found)

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
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
    ) -> Response[RecordingOut]:
        recording = await service.get_recording(tx, principal, recording_id)
        return Response(to(RecordingOut, recording), headers={"ETag": etag(recording.version)})

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
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        if_match: IfMatch = None,
    ) -> Response[RecordingOut]:
        recording = await service.update_recording(tx, principal, recording_id, data, if_match)
        return Response(to(RecordingOut, recording), headers={"ETag": etag(recording.version)})
