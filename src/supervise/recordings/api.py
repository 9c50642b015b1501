"""``/v1/cases`` and ``/v1/recordings``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import Body, FromPath, JSONBody, QueryParameter

from supervise.auth import permissions
from supervise.auth.principal import Principal
from supervise.db import Tx
from supervise.http import Made, Once, problem_of, problem_responses, to
from supervise.pagination import DEFAULT_LIMIT
from supervise.parameters import ETAG, LOCATION, Cursor, IfMatch, Instant, Limit, UpdatedSince, instant, page
from supervise.preconditions import etag
from supervise.recordings import batch, service
from supervise.recordings.schemas import (
    MAX_BATCH,
    CaseCreate,
    CaseOut,
    CasePage,
    RecordingBatch,
    RecordingBatchItemResult,
    RecordingBatchResult,
    RecordingCreate,
    RecordingFilter,
    RecordingOut,
    RecordingPage,
    RecordingUpdate,
)
from supervise.runtime import Runtime

__all__ = ["CaseController", "RecordingBatchController", "RecordingController"]


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
        description="Your own cases and your supervisees'; admins see all, oldest first. A case never changes "
        "once created: `updated_since` lists those created since. Audited.",
        responses=problem_responses(400, 401, 403, 422),
    )
    async def list_cases(
        self,
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        therapist_id: Annotated[uuid.UUID | None, QueryParameter(description="Only this therapist's cases.")] = None,
        updated_since: UpdatedSince = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> CasePage:
        scope = f"cases?therapist={therapist_id}&u={updated_since}"
        found = await service.list_cases(
            tx,
            runtime,
            principal,
            page(principal, scope, cursor, limit),
            therapist_id=therapist_id,
            created_since=instant(updated_since, "updated_since"),
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
        updated_since: UpdatedSince = None,
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


_CASE = "0190f5c4-6a5e-7cc1-8000-00000000c001"
_ITEM: dict[str, Any] = {
    "case_id": _CASE,
    "occurred_at": "2026-11-02T10:00:00+01:00",
    "session_number": 3,
    "duration_ms": 3_000_000,
    "medium": "video",
    "media": {
        "uri": "s3://clinic-recordings/2026/11/session-0173.mp4",
        "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    },
    "consent": {"scope": "supervision", "expires_at": "2027-11-02T00:00:00Z"},
    "external_id": "ehr-rec-0173",
}
_NEXT = {
    **{k: v for k, v in _ITEM.items() if k != "case_id"},
    "case": {"therapist_id": "0190f5c4-6a5e-7cc1-8000-000000000007", "external_ref": "C-2024-0174"},
    "occurred_at": "2026-11-09T10:00:00+01:00",
    "session_number": 4,
    "media": {
        "uri": "s3://clinic-recordings/2026/11/session-0174.mp4",
        "sha256": "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
    },
    "external_id": "ehr-rec-0174",
}
_AGAIN = {
    **_ITEM,
    "occurred_at": "2026-10-26T10:00:00+01:00",
    "session_number": 2,
    "media": {
        "uri": "s3://clinic-recordings/2026/10/session-0172.mp4",
        "sha256": "fd61a03af4f77d870fc21e05e7e80678095c92d808cfb3b5c279ee04c74aca13",
    },
    "external_id": "ehr-rec-0172",
}
_BATCH_EXAMPLE = {"items": [_ITEM, _NEXT, _AGAIN]}
_STORED = {
    "consent": {"scope": "supervision", "expires_at": "2027-11-02T00:00:00Z", "withdrawn_at": None, "active": True},
    "version": 1,
    "created_at": "2026-11-09T18:00:00Z",
    "updated_at": "2026-11-09T18:00:00Z",
}
"""What the server adds to a pushed recording in the examples."""
_RESULT_EXAMPLE = {
    "items": [
        {
            "index": 0,
            "external_id": "ehr-rec-0173",
            "result": "created",
            "status": 201,
            "recording": {
                **{k: v for k, v in _ITEM.items() if k != "consent"},
                "id": "0190f5c4-6a5e-7cc1-8000-00000000a173",
                "therapist_id": "0190f5c4-6a5e-7cc1-8000-000000000007",
                "occurred_at": "2026-11-02T09:00:00Z",
                **_STORED,
            },
            "problem": None,
        },
        {
            "index": 1,
            "external_id": "ehr-rec-0174",
            "result": "created",
            "status": 201,
            "recording": {
                **{k: v for k, v in _NEXT.items() if k not in ("case", "consent")},
                "id": "0190f5c4-6a5e-7cc1-8000-00000000a174",
                "case_id": "0190f5c4-6a5e-7cc1-8000-00000000c002",
                "therapist_id": "0190f5c4-6a5e-7cc1-8000-000000000007",
                "occurred_at": "2026-11-09T09:00:00Z",
                **_STORED,
            },
            "problem": None,
        },
        {
            "index": 2,
            "external_id": "ehr-rec-0172",
            "result": "failed",
            "status": 409,
            "recording": None,
            "problem": {
                "type": "https://supervise.dev/problems/external-id-used",
                "title": "external_id used",
                "status": 409,
                "detail": "A different recording was already pushed with this external_id: media.sha256 cannot change.",
                "errors": [
                    {
                        "field": "external_id",
                        "message": "already used by recording 0190f5c4-6a5e-7cc1-8000-00000000a172",
                    },
                    {
                        "field": "media.sha256",
                        "message": "differs from the recording pushed with this external_id; it cannot change",
                    },
                ],
                "recording_id": "0190f5c4-6a5e-7cc1-8000-00000000a172",
            },
        },
    ],
    "created": 2,
    "unchanged": 0,
    "updated": 0,
    "failed": 1,
}


def _results(outcomes: list[batch.Outcome]) -> RecordingBatchResult:
    items = [
        RecordingBatchItemResult(
            index=o.index,
            external_id=o.external_id,
            result=o.result,
            status=o.status,
            recording=to(RecordingOut, o.recording) if o.recording is not None else None,
            problem=problem_of(o.error) if o.error is not None else None,
        )
        for o in outcomes
    ]
    counts = {kind: sum(1 for o in outcomes if o.result == kind) for kind in ("created", "unchanged", "updated")}
    return RecordingBatchResult(items=items, failed=len(items) - sum(counts.values()), **counts)


class RecordingBatchController(Controller):
    path = "/v1/recordings:batch"
    tags = ["Recordings"]

    @post(
        "/",
        operation_id="upsertRecordings",
        permission=permissions.RecordingsWrite,
        summary=f"Push up to {MAX_BATCH} recordings at once (upsert by external_id)",
        description=f"1 to {MAX_BATCH} items, each as for `POST /v1/recordings` with its `external_id` required, "
        "and each its own unit: one that fails changes nothing and the others are written. The answer is 200 with "
        "one result per item, in order: `created` (201 on its own), `unchanged` (pushed before, the same), "
        "`updated` (pushed before with other consent: changed as by `PATCH /v1/recordings/{id}`), or `failed` "
        "with the problem the single endpoints would answer (a field that can never change, such as the case "
        "or `media.sha256`, is 409 `external-id-used`, naming it to whoever may see that recording; an "
        "`external_id` given twice in one batch is 422 `batch-duplicate` for each). An item names its case by "
        "`case_id`, or by the clinic's reference, `case: {therapist_id, external_ref}`: that case is used, or "
        "created as by `POST /v1/cases` (audited `case.create`; an item that fails leaves none behind), so a new "
        "client's sessions need no call before. One of the two, not both (400). Each item is audited and emits "
        "its events as the single endpoints do. Batches of one organisation run one at a time, so the same "
        "batch sent twice at once is safe. By the therapist or an admin (clinic systems: an integration key "
        "with recordings:write).",
        status_code=200,
        response_description="One result per item, in the order of the request",
        examples=[
            Example(
                summary="Two created (the second with its new case), one conflicting with an earlier push",
                value=_RESULT_EXAMPLE,
            )
        ],
        responses=problem_responses(400, 401, 403, 409, 422),
    )
    async def upsert_recordings(
        self,
        data: Annotated[
            RecordingBatch,
            Body(
                examples=[
                    Example(
                        summary="A session of a case by id, a new client's first by reference, one pushed before",
                        value=_BATCH_EXAMPLE,
                    )
                ]
            ),
        ],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        once: NamedDependency[Once],
    ) -> Response[RecordingBatchResult]:
        async def upsert() -> Made:
            outcomes = await batch.upsert_recordings(tx, principal, data.items)
            return Made(_results(outcomes), status=200)

        return await once(data, upsert)
