"""Releasing a rubric version only drafts use (``supervise rubrics release KEY VERSION``), during development:
its drafts are discarded in every organisation, and its snapshot with them, so the next draft freezes the
definition installed then.

Anything that has kept or may keep a result of the version refuses it: a submitted review or amendment, a
client rating, a stored score, a review request that is not cancelled (its reviewer may start a draft at any
time, and a done one has a submitted review), a client form that is pending or used. A cancelled request and a
revoked or expired form stay as they are: they name the version, nothing can score it through them, and no
row refers to the snapshot.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from supervise.audit import service as audit
from supervise.clock import utcnow
from supervise.db import Tx
from supervise.rubrics import repository, usage

__all__ = ["NotReleasable", "Usage", "counted", "plan", "refusal", "release", "summary"]


class NotReleasable(Exception):
    """The version cannot be released; the message says why, with what uses it."""


@dataclass(frozen=True)
class Usage:
    """What uses one ``(key, version)``, across organisations."""

    key: str
    version: str
    snapshot_taken: dt.datetime
    plugin: str
    drafts: dict[uuid.UUID, list[uuid.UUID]]
    """The drafts, by organisation."""
    organisations: dict[uuid.UUID, str]
    """The names of the organisations with drafts."""
    submitted_reviews: int = 0
    client_ratings: int = 0
    scores: int = 0
    requests: int = 0
    forms: int = 0
    blocked_by: list[str] = field(default_factory=list)
    """What refuses the release, in words with counts; empty when only drafts use the version."""

    @property
    def draft_count(self) -> int:
        return sum(len(ids) for ids in self.drafts.values())


def counted(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


async def plan(tx: Tx, key: str, version: str, *, lock: bool = False) -> Usage:
    """What releasing the version would discard, and what refuses it (``lock``: its drafts locked). Without a
    snapshot there is nothing to release: no review froze the version, and its definition may still change."""
    snapshot = await repository.get_snapshot(tx, key, version)
    if snapshot is None:
        known = ", ".join(sorted(f"{s.key} {s.version}" for s in await repository.all_snapshots(tx))) or "none"
        raise NotReleasable(
            f"no snapshot of rubric {key} {version}: nothing has frozen that version, so its definition may still "
            f"change without a release (versions with snapshots: {known})"
        )
    now = utcnow()
    drafts: dict[uuid.UUID, list[uuid.UUID]] = {}
    for org_id, review_id in await usage.drafts(tx, key, version, lock=lock):
        drafts.setdefault(org_id, []).append(review_id)
    counts = {
        "submitted_reviews": await usage.submitted_reviews(tx, key, version),
        "client_ratings": await usage.client_ratings(tx, key, version),
        "scores": await usage.scores(tx, key, version),
        "requests": await usage.requests_not_cancelled(tx, key, version),
        "forms": await usage.pending_or_used_forms(tx, key, version, now),
    }
    words = {
        "submitted_reviews": ("submitted review (or amendment)", "submitted reviews (or amendments)"),
        "client_ratings": ("client rating", "client ratings"),
        "scores": ("stored score", "stored scores"),
        "requests": ("review request open, in progress or done", "review requests open, in progress or done"),
        "forms": ("client form pending or used", "client forms pending or used"),
    }
    return Usage(
        key=key,
        version=version,
        snapshot_taken=snapshot.created_at,
        plugin=snapshot.plugin,
        drafts=drafts,
        organisations=await usage.organisation_names(tx, set(drafts)),
        blocked_by=[counted(n, *words[name]) for name, n in counts.items() if n],
        **counts,
    )


def refusal(found: Usage) -> str:
    return (
        f"rubric {found.key} {found.version} is used by more than drafts: {', '.join(found.blocked_by)}. "
        "Nothing was changed. Their results keep this definition: restore it, and publish the change under a "
        "new version."
    )


async def release(tx: Tx, key: str, version: str) -> Usage:
    """Discard the version's drafts (with their annotations) in every organisation and its snapshot, in the
    caller's transaction; audited in each organisation whose drafts were discarded: one ``review.discard`` per
    draft, as discarding it through the API is, and one ``rubric.version_released``. Refused, changing
    nothing, when anything but drafts uses the version (:func:`plan` says what)."""
    found = await plan(tx, key, version)
    for org_id in sorted(found.drafts):  # each chain's lock before its rows: the order every writer takes them
        await audit.serialise(tx, org_id)
    found = await plan(tx, key, version, lock=True)  # again under those locks: what was submitted meanwhile counts
    if found.blocked_by:
        raise NotReleasable(refusal(found))
    origin = f"cli: rubrics release {key} {version}"
    for org_id, review_ids in sorted(found.drafts.items()):
        if await usage.delete_drafts(tx, org_id, review_ids) != len(review_ids):
            raise NotReleasable(f"a draft of rubric {key} {version} was submitted meanwhile: nothing was changed")
        for review_id in review_ids:
            await audit.record(tx, None, "review.discard", "review", review_id, org_id=org_id, request_id=origin)
        await audit.record(tx, None, "rubric.version_released", "rubric", None, org_id=org_id, request_id=origin)
    await usage.delete_snapshot(tx, key, version)
    return found


def summary(found: Usage) -> list[str]:
    """What the release discards, a line each, for the operator to confirm."""
    lines = [
        f"rubric {found.key} {found.version} (plugin '{found.plugin}'), frozen "
        f"{found.snapshot_taken.isoformat(timespec='seconds')}:"
    ]
    for org_id, ids in sorted(found.drafts.items(), key=lambda kv: (found.organisations.get(kv[0], ""), kv[0])):
        drafts = counted(len(ids), "draft review", "draft reviews")
        lines.append(f"  {drafts} in {found.organisations.get(org_id)} ({org_id}), annotations included")
    if not found.drafts:
        lines.append("  no draft reviews")
    lines.append("  and the snapshot of its definition: the next draft freezes the definition installed then")
    return lines
