"""Domain errors. Services raise these; ``supervise.http`` maps each to one problem+json response."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from supervise import problems
from supervise.problems import ProblemType

__all__ = [
    "Conflict",
    "DomainError",
    "EventsExpired",
    "FieldError",
    "Forbidden",
    "NotFound",
    "PluginFailure",
    "PreconditionFailed",
    "PreconditionRequired",
    "ProblemType",
    "RubricNotInstalled",
    "ServiceUnavailable",
    "Unauthorized",
    "Unprocessable",
]


class FieldError:
    __slots__ = ("field", "message")

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message


class DomainError(Exception):
    """A failure of one cause, ``kind`` (its problem type, which also gives the status); 400 by default.

    ``ids``: the extension members the client needs to go on (``draft_id=...``), each one the type declares."""

    status = 400

    def __init__(
        self,
        kind: ProblemType,
        detail: str,
        *,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
        **ids: uuid.UUID | None,
    ) -> None:
        assert kind.status == self.status, (kind.slug, self.status)
        assert set(ids) <= set(kind.extensions), (kind.slug, set(ids))
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.errors = list(errors)
        self.headers = dict(headers or {})
        self.ids = {name: value for name, value in ids.items() if value is not None}

    @property
    def title(self) -> str:
        return self.kind.title


class Unauthorized(DomainError):
    status = 401

    def __init__(self, detail: str) -> None:
        super().__init__(problems.UNAUTHORIZED, detail, headers={"WWW-Authenticate": 'Bearer realm="supervise"'})


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404

    def __init__(self, resource: str = "resource") -> None:
        # The detail never depends on whether the id exists elsewhere: another organisation's id and an
        # id that never existed must be indistinguishable.
        super().__init__(problems.NOT_FOUND, f"No {resource} with this id.")


class Conflict(DomainError):
    status = 409


class RubricNotInstalled(Conflict):
    """The review's rubric version is no longer installed here: it can be read, never scored again."""

    def __init__(self, detail: str) -> None:
        super().__init__(problems.RUBRIC_NOT_INSTALLED, detail)


class EventsExpired(DomainError):
    """A change-feed cursor older than the events pruned since: reading on would skip them."""

    status = 410

    def __init__(self, detail: str) -> None:
        super().__init__(problems.EVENTS_EXPIRED, detail)


class PreconditionFailed(DomainError):
    status = 412

    def __init__(self, detail: str, *, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(problems.PRECONDITION_FAILED, detail, errors=errors)


class Unprocessable(DomainError):
    status = 422


class PluginFailure(DomainError):
    """A rubric plugin raised, or returned a result that breaks its own declaration: the plugin's fault, not
    the caller's. The detail names the plugin; nothing is written."""

    status = 500

    def __init__(self, detail: str) -> None:
        super().__init__(problems.PLUGIN_FAILURE, detail)


class PreconditionRequired(DomainError):
    status = 428

    def __init__(self, detail: str, *, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(problems.PRECONDITION_REQUIRED, detail, errors=errors)


class ServiceUnavailable(DomainError):
    """The database could not do its part just now; nothing was changed or disclosed. Retrying is safe."""

    status = 503

    def __init__(self, detail: str, kind: ProblemType = problems.SERVICE_UNAVAILABLE) -> None:
        super().__init__(kind, detail, headers={"Retry-After": "1"})
