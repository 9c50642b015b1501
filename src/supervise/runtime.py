"""What one application instance holds: settings, database, key hasher, cursor codec."""

from __future__ import annotations

from dataclasses import dataclass

from supervise.auth.keys import ApiKeyHasher
from supervise.config import Settings
from supervise.db import Database
from supervise.pagination import CursorCodec
from supervise.rubrics.registry import Registry, load_registry

__all__ = ["Runtime"]


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    db: Database
    hasher: ApiKeyHasher
    cursors: CursorCodec
    head_revision: str | None
    registry: Registry
    """The newest migration this code knows; the schema must be at it."""

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        secret = settings.server_secret()
        db = Database(settings)
        return cls(
            settings=settings,
            db=db,
            hasher=ApiKeyHasher(secret),
            cursors=CursorCodec(secret),
            head_revision=db.head_revision(),
            registry=load_registry(settings.plugin_allow_list),
        )
