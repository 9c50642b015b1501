"""Domain errors. Services raise these; ``supervise.http`` maps each to one problem+json response."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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
    status = 400
    title = "Bad request"
    type_slug = "bad-request"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)
        self.headers = dict(headers or {})


class Unauthorized(DomainError):
    status = 401
    title = "Unauthorized"
    type_slug = "unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="supervise"'})


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"
    type_slug = "forbidden"


class NotFound(DomainError):
    status = 404
    title = "Not found"
    type_slug = "not-found"

    def __init__(self, resource: str = "resource") -> None:
        # The detail never depends on whether the id exists elsewhere: another organisation's id and an
        # id that never existed must be indistinguishable.
        super().__init__(f"No {resource} with this id.")


class Conflict(DomainError):
    status = 409
    title = "Conflict"
    type_slug = "conflict"


class RubricNotInstalled(Conflict):
    """The review's rubric version is no longer installed here: it can be read, never scored again."""

    title = "Rubric not installed"
    type_slug = "rubric-not-installed"


class EventsExpired(DomainError):
    """A change-feed cursor older than the events pruned since: reading on would skip them."""

    status = 410
    title = "Gone"
    type_slug = "events-expired"


class PreconditionFailed(DomainError):
    status = 412
    title = "Precondition failed"
    type_slug = "precondition-failed"


class Unprocessable(DomainError):
    status = 422
    title = "Unprocessable request"
    type_slug = "unprocessable"


class PluginFailure(DomainError):
    """A rubric plugin raised, or returned a result that breaks its own declaration: the plugin's fault, not
    the caller's. The detail names the plugin; nothing is written."""

    status = 500
    title = "Rubric plugin failed"
    type_slug = "plugin-failure"


class PreconditionRequired(DomainError):
    status = 428
    title = "Precondition required"
    type_slug = "precondition-required"


class ServiceUnavailable(DomainError):
    """The database could not do its part just now; nothing was changed or disclosed. Retrying is safe."""

    status = 503
    title = "Service unavailable"
    type_slug = "service-unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Retry-After": "1"})
