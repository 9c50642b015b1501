"""The interactive docs (``/docs``, served at ``/schema/``): Swagger UI from files in this package, so the page
renders with no internet.

The files in ``static/docs/`` are swagger-ui-dist at the version pinned in ``vendor/docs-ui/package-lock.json``,
copied with their licence by ``npm ci && npm run vendor`` there, with a manifest of their Subresource Integrity
digests: the page names each file with its digest, and a browser refuses a file that is not the one pinned.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from litestar import Request, Router
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.static_files import create_static_files_router

__all__ = ["ASSETS", "SwaggerUI"]

ASSETS = Path(__file__).parent / "static" / "docs"
ASSETS_PATH = "/assets"
"""Where the files are served, under the document's path (``/schema/assets/...``: public, like the document)."""


class SwaggerUI(OpenAPIRenderPlugin):
    """Swagger UI for the document, its script and style served by this application with their integrity."""

    def __init__(self, *, path: str = "/") -> None:
        manifest = json.loads((ASSETS / "manifest.json").read_text())
        self.version: str = manifest["version"]
        self.integrity: dict[str, str] = manifest["integrity"]
        super().__init__(path=path, favicon="", style="<style>body { margin: 0 }</style>")

    def receive_router(self, router: Router) -> None:
        # The file names carry no version: a browser revalidates (ETag, Last-Modified) rather than keeping an old
        # bundle after an upgrade.
        router.register(
            create_static_files_router(
                ASSETS_PATH,
                directories=[ASSETS],
                name="docs-assets",
                cache_control=CacheControlHeader(no_cache=True),
                include_in_schema=False,
            )
        )

    def _asset(self, request: Request[Any, Any, Any], name: str) -> tuple[str, str]:
        prefix = request.app.openapi_config.path if request.app.openapi_config else "/schema"
        return html.escape(f"{prefix}{ASSETS_PATH}/{name}"), html.escape(self.integrity[name])

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        script, script_integrity = self._asset(request, "swagger-ui-bundle.js")
        css, css_integrity = self._asset(request, "swagger-ui.css")
        icon, _ = self._asset(request, "favicon-32x32.png")  # a favicon takes no integrity
        title = html.escape(str(openapi_schema["info"]["title"]))
        document = json.dumps(self.get_openapi_json_route(request))
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}</title>
  <link rel="icon" type="image/png" href="{icon}">
  <link rel="stylesheet" href="{css}" integrity="{css_integrity}" crossorigin="anonymous">
  {self.style}
</head>
<body>
  <div id="swagger-ui" data-swagger-ui-version="{html.escape(self.version)}"></div>
  <script src="{script}" integrity="{script_integrity}" crossorigin="anonymous"></script>
  <script>
    window.ui = SwaggerUIBundle({{
      url: {document},
      dom_id: "#swagger-ui",
      deepLinking: true,
      showExtensions: true,
      showCommonExtensions: true,
      validatorUrl: null,
      presets: [SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
    }});
  </script>
</body>
</html>
""".encode()
