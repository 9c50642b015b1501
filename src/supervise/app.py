"""``create_app(settings)``: the one place that wires controllers, dependencies, middleware and errors."""

from __future__ import annotations

from litestar import Litestar, get
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme, Tag
from litestar.response import Redirect

from supervise import __version__
from supervise.audit.api import AuditEventController
from supervise.auth.api import ApiKeyController, MeController
from supervise.config import Settings
from supervise.dependencies import dependencies
from supervise.health import HealthController
from supervise.http import exception_handlers, stamp_response
from supervise.members.api import MemberController, SupervisionLinkController
from supervise.runtime import Runtime

__all__ = ["create_app", "create_app_from_env"]

DESCRIPTION = """\
Clinical supervisors and peers review recorded therapy sessions and score the therapeutic alliance
with rubrics that come from plugins.

* **Auth**: `Authorization: Bearer <api key>`; create the first key with `supervise orgs create`.
* **Errors**: RFC 9457 `application/problem+json`; validation problems list the fields in `errors`.
* **Lists**: `?limit=&cursor=`; pass `next_cursor` back unchanged.
* **Writes**: `Idempotency-Key` on POST (remembered 24 hours); `If-Match` with the `ETag` on PATCH.
* **Limits**: request bodies up to 1 MiB (413 beyond).
"""


@get("/docs", include_in_schema=False)
async def docs() -> Redirect:
    return Redirect("/schema")


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="supervise",
        version=__version__,
        description=DESCRIPTION,
        path="/schema",
        render_plugins=[ScalarRenderPlugin(path="/")],
        components=Components(
            security_schemes={
                "apiKey": SecurityScheme(type="http", scheme="bearer", description="An API key: svk_<key id>_<secret>.")
            }
        ),
        security=[{"apiKey": []}],
        tags=[
            Tag(name="Identity"),
            Tag(name="Members"),
            Tag(name="Supervision"),
            Tag(name="API keys"),
            Tag(name="Audit"),
            Tag(name="Health"),
        ],
        use_handler_docstrings=False,
    )


def create_app(settings: Settings) -> Litestar:
    runtime = Runtime.build(settings)

    async def dispose(_: Litestar) -> None:
        await runtime.db.dispose()

    return Litestar(
        route_handlers=[
            HealthController,
            docs,
            MeController,
            MemberController,
            SupervisionLinkController,
            ApiKeyController,
            AuditEventController,
        ],
        dependencies=dependencies,
        exception_handlers=exception_handlers,
        before_send=[stamp_response],
        state=State({"runtime": runtime, "settings": settings}),
        request_max_body_size=settings.max_body_bytes,
        openapi_config=openapi_config(),
        on_shutdown=[dispose],
        debug=False,
    )


def create_app_from_env() -> Litestar:
    """Factory for ``uvicorn --factory``: settings from ``SUPERVISE_*`` environment variables."""
    return create_app(Settings.from_env())
