"""``/v1/client-ratings`` (a clinic system pushes a completed form), ``/v1/client-forms`` (one-time links,
asked for by the clinic) and ``/v1/forms/{token}`` (the link itself, which the client's front end reads and
submits without an API key)."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, PathParameter, QueryParameter

from supervise.auth import permissions
from supervise.auth.principal import Principal
from supervise.client_ratings import service
from supervise.client_ratings.schemas import (
    ClientFormCreate,
    ClientFormOut,
    ClientFormPage,
    ClientFormSubmission,
    ClientRatingCreate,
    ClientRatingOut,
    FormReceipt,
    FormView,
    IssuedForm,
)
from supervise.clock import utcnow
from supervise.db import Tx
from supervise.dependencies import Visitor
from supervise.http import Made, Once, With, problem_responses, to
from supervise.pagination import DEFAULT_LIMIT
from supervise.parameters import LOCATION, Cursor, Limit, page
from supervise.rubrics import service as rubrics
from supervise.runtime import Runtime

__all__ = ["ClientFormController", "ClientRatingController", "FormController"]


def _rating(rated: service.Rated) -> ClientRatingOut:
    review = rated.review
    return to(
        ClientRatingOut,
        With(
            rated.rating,
            id=review.id,
            therapist_id=review.therapist_id,
            responses=review.responses,
            result=review.result,
        ),
    )


def _form(form: service.ClientForm, **extra: object) -> With:
    return With(form, state=form.state(utcnow()), rating_id=form.review_id, **extra)


class ClientRatingController(Controller):
    path = "/v1/client-ratings"
    tags = ["Client ratings"]

    @post(
        "/",
        operation_id="createClientRating",
        permission=permissions.ClientRatingsAdmin,
        summary="Push a client's completed form (clinic systems)",
        description="A clinic system (an integration key with `client-ratings:write`) pushes the form a client "
        "completed for a session: rubric (one its raters include `client`), responses, when it was completed, "
        "and its own `external_id`. It is validated, scored and stored as a review with role `client` and no "
        "reviewer, in the transaction that audits it. Pushing the same form again under its `external_id` "
        "answers 200 with the same rating; a different form under that id is 409. A session has one client "
        "rating per rubric.",
        status_code=201,
        response_headers=[LOCATION],
        responses={
            200: ResponseSpec(data_container=ClientRatingOut, description="Already pushed: the same rating."),
            **problem_responses(400, 401, 403, 409, 422),
        },
    )
    async def create_client_rating(
        self,
        data: JSONBody[ClientRatingCreate],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        once: NamedDependency[Once],
    ) -> Response[ClientRatingOut]:
        async def create() -> Made:
            rated = await service.submit_rating(tx, runtime, principal, data)
            return Made(_rating(rated), f"/v1/reviews/{rated.review.id}", status=201 if rated.created else 200)

        return await once(data, create)


class ClientFormController(Controller):
    path = "/v1/client-forms"
    tags = ["Client ratings"]

    @post(
        "/",
        operation_id="createClientForm",
        permission=permissions.ClientFormsWrite,
        summary="Ask a client to rate a session, through a one-time link",
        description="By the therapist, a supervisor of theirs, an admin or a clinic system. The answer holds "
        "the link's token and URL, once: only a digest of the token is kept. The link serves the form to the "
        "client's front end and takes one submission, until it expires (72 h by default) or is revoked.",
        status_code=201,
        response_headers=[LOCATION],
        responses=problem_responses(400, 401, 403, 409, 422),
    )
    async def create_client_form(
        self,
        data: JSONBody[ClientFormCreate],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        once: NamedDependency[Once],
    ) -> Response[IssuedForm]:
        async def create() -> Made:
            issued = await service.create_form(tx, runtime, principal, data)
            form = issued.form
            return Made(
                to(IssuedForm, _form(form, token=issued.token, url=f"/v1/forms/{issued.token}")),
                f"/v1/client-forms/{form.id}",
                remembered=to(IssuedForm, _form(form, token=None, url=None)),  # the token is never stored
            )

        return await once(data, create)

    @get(
        "/",
        operation_id="listClientForms",
        permission=permissions.ClientFormsRead,
        summary="List client form links",
        description="Links for your own sessions and your supervisees'; admins see all. Oldest first. Audited.",
        responses=problem_responses(400, 401, 403),
    )
    async def list_client_forms(
        self,
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        recording_id: Annotated[uuid.UUID | None, QueryParameter(description="Only this session's.")] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> ClientFormPage:
        found = await service.list_forms(
            tx, runtime, principal, page(principal, f"client-forms?r={recording_id}", cursor, limit), recording_id
        )
        return ClientFormPage(
            items=[to(ClientFormOut, _form(f)) for f in found.items],
            next_cursor=found.next_cursor,
            has_more=found.has_more,
        )

    @get(
        "/{form_id:uuid}",
        operation_id="getClientForm",
        permission=permissions.ClientFormsRead,
        summary="Get a client form link (never its token)",
        responses=problem_responses(400, 401, 403, 404),
    )
    async def get_client_form(
        self, form_id: FromPath[uuid.UUID], tx: NamedDependency[Tx], principal: NamedDependency[Principal]
    ) -> ClientFormOut:
        return to(ClientFormOut, _form(await service.get_form(tx, principal, form_id)))

    @delete(
        "/{form_id:uuid}",
        operation_id="revokeClientForm",
        permission=permissions.ClientFormsWrite,
        summary="Revoke a client form link",
        description="The link answers 404 from now on, as if it never existed. A used link cannot be revoked "
        "(409); revoking it again changes nothing.",
        responses=problem_responses(400, 401, 403, 404, 409),
    )
    async def revoke_client_form(
        self, form_id: FromPath[uuid.UUID], tx: NamedDependency[Tx], principal: NamedDependency[Principal]
    ) -> None:
        await service.revoke_form(tx, principal, form_id)


Token = Annotated[str, PathParameter(max_length=100, description="The link's token, as `createClientForm` gave it.")]


class FormController(Controller):
    path = "/v1/forms"
    tags = ["Client ratings"]

    @get(
        "/{token:str}",
        operation_id="getForm",
        permission=permissions.ByFormLink,
        summary="The form behind a client's link (no API key)",
        description="What a kiosk, tablet or text-message front end needs to show the client the form: the "
        "rubric's definition and the JSON Schema of its responses, the clinic's name and the session's date. "
        "No names, no other data. An unknown, expired, revoked or used link is 404, the same answer for each. "
        "Rate-limited per link and per address.",
        responses=problem_responses(400, 404),
    )
    async def get_form(self, token: Token, tx: NamedDependency[Tx], runtime: NamedDependency[Runtime]) -> FormView:
        opened = await service.open_form(tx, token)
        served = await rubrics.get_version(tx, runtime.registry, opened.form.rubric_key, opened.form.rubric_version)
        return FormView(
            clinic=opened.clinic,
            session_date=opened.session_date,
            rubric=served.definition,
            responses_schema=served.responses_schema,
            expires_at=opened.form.expires_at,
        )

    @post(
        "/{token:str}",
        operation_id="submitForm",
        permission=permissions.ByFormLink,
        summary="Submit the client's answers through their link (no API key)",
        description="Once: the answers are validated (422 naming each fault), scored and stored as the "
        "session's client rating, and the link is used up. A second submission is 409; an unknown, expired or "
        "revoked link is 404. Audited, with the address it came from.",
        status_code=200,
        responses=problem_responses(400, 404, 409, 422),
    )
    async def submit_form(
        self,
        token: Token,
        data: JSONBody[ClientFormSubmission],
        tx: NamedDependency[Tx],
        runtime: NamedDependency[Runtime],
        visitor: NamedDependency[Visitor],
    ) -> FormReceipt:
        form = await service.submit_form(
            tx, runtime, token, data, request_id=visitor.request_id, source_address=visitor.source_address
        )
        assert form.used_at is not None
        return FormReceipt(received_at=form.used_at)
