"""ETags from row versions, and the ``If-Match`` check every update makes."""

from __future__ import annotations

from supervise.errors import FieldError, PreconditionFailed, PreconditionRequired

__all__ = ["check_if_match", "etag"]


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, version: int) -> None:
    """Require ``If-Match`` and compare it strongly with the row version (428 when absent, 412 when stale)."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired(
            "This update needs an If-Match header carrying the ETag of the version you read.",
            errors=[FieldError("If-Match", "required")],
        )
    candidates = [tag.strip() for tag in if_match.split(",")]
    if "*" in candidates or etag(version) in candidates:
        return
    raise PreconditionFailed(
        f"The resource changed since you read it; its current ETag is {etag(version)}.",
        errors=[FieldError("If-Match", "stale")],
    )
