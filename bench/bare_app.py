"""The ceiling of the stack: a bare Litestar endpoint returning a small msgspec struct, no database."""

from __future__ import annotations

import msgspec
from litestar import Litestar, get


class Small(msgspec.Struct):
    id: str
    name: str
    active: bool


@get("/bare", sync_to_thread=False)
def bare() -> Small:
    return Small(id="01a215ad-cc6b-7763-a958-3fe866954ac4", name="Bo", active=True)


def create_app() -> Litestar:
    return Litestar(route_handlers=[bare])
