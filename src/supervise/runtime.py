"""What one application instance holds: settings, database, key hasher, cursor codec, caches, the read log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from supervise.audit.denials import Denials
from supervise.audit.readlog import ReadLog
from supervise.auth.jwks import KeySets
from supervise.auth.keys import ApiKeyHasher
from supervise.cache import Generations, LruCache
from supervise.config import ConfigError, Settings
from supervise.db import Database
from supervise.pagination import CursorCodec
from supervise.rubrics.registry import Registry, load_registry
from supervise.throttle import Throttle

__all__ = ["Runtime"]


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    db: Database
    hasher: ApiKeyHasher
    cursors: CursorCodec
    head_revision: str | None
    """The newest migration this code knows; the schema must be at it."""
    registry: Registry
    generations: Generations
    callers: LruCache
    """Authenticated API keys, by key id (see ``auth.service.authenticate``)."""
    views: LruCache
    """Computed aggregate views, by what was asked and by whom."""
    reads: ReadLog
    denials: Denials
    """Refused attempts, coalesced (``supervise.audit.denials``)."""
    throttle: Throttle
    """The rate limits (``supervise.throttle``)."""
    keysets: KeySets
    """Identity providers' signing keys, fetched and cached (``supervise.auth.jwks``)."""

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        if not 1 <= settings.client_form_hours <= 720:
            raise ConfigError(f"SUPERVISE_CLIENT_FORM_HOURS must be from 1 to 720, got {settings.client_form_hours}")
        _check_oidc(settings)
        secret = settings.server_secret()
        db = Database(settings)
        return cls(
            settings=settings,
            db=db,
            hasher=ApiKeyHasher(secret),
            cursors=CursorCodec(secret),
            head_revision=db.head_revision(),
            registry=load_registry(settings.plugin_allow_list),
            generations=Generations(settings),
            callers=LruCache(10_000),
            views=LruCache(256),  # a team view of 100 therapists is about 200 kB of JSON
            reads=ReadLog(db),
            denials=Denials(db, settings.audit_denial_window_seconds),
            throttle=Throttle(settings),
            keysets=KeySets(settings),
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One transaction, committed on success; then the reads it noted are audited (``audit.record_read``)."""
        async with self.db.transaction() as tx:
            yield tx
        await self.reads.write(tx)

    async def close(self) -> None:
        await self.denials.close()
        await self.reads.close()
        await self.generations.close()
        await self.throttle.close()
        await self.keysets.close()
        await self.db.dispose()


def _check_oidc(settings: Settings) -> None:
    """The identity provider settings within bounds that keep sign-in both safe and working."""
    bounds = {
        "oidc_leeway_seconds": (0, 300),
        "oidc_jwks_refetch_seconds": (1, 86_400),
        "oidc_jwks_max_age_seconds": (settings.oidc_jwks_refetch_seconds, 7 * 86_400),
        "oidc_http_timeout_seconds": (1, 60),
    }
    for name, (low, high) in bounds.items():
        value = getattr(settings, name)
        if not low <= value <= high:
            raise ConfigError(f"SUPERVISE_{name.upper()} must be from {low} to {high}, got {value}")
