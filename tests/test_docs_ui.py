"""``/docs`` works with no internet: Swagger UI's files are served by the application, pinned and with integrity."""

from __future__ import annotations

import filecmp
import json
import subprocess
from pathlib import Path

import pytest

from supervise.docs_ui import ASSETS
from tests.browser import offline_page
from tests.support import Api
from tests.test_serve import environment, serving

VENDOR = Path(__file__).resolve().parents[1] / "vendor" / "docs-ui"


def test_the_docs_page_names_its_files_with_their_integrity(anonymous: Api) -> None:
    page = anonymous.client.get("/docs", follow_redirects=True)
    assert page.status_code == 200
    manifest = json.loads((ASSETS / "manifest.json").read_text())
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f'/schema/assets/{name}" integrity="{manifest["integrity"][name]}"' in page.text
        served = anonymous.client.get(f"/schema/assets/{name}")
        assert served.status_code == 200
        assert served.content == (ASSETS / name).read_bytes()
    assert "cdn" not in page.text.lower()
    assert "http://" not in page.text and "https://" not in page.text


@pytest.mark.slow
def test_the_vendored_files_are_the_pinned_package(tmp_path: Path) -> None:
    """What ``npm ci && npm run vendor`` makes from the lock file is what is committed, byte for byte."""
    subprocess.run(["npm", "ci"], cwd=VENDOR, check=True, capture_output=True, timeout=300)
    subprocess.run(["node", "vendor.mjs", str(tmp_path)], cwd=VENDOR, check=True, capture_output=True, timeout=60)
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted(p.name for p in ASSETS.iterdir())
    _, mismatched, errors = filecmp.cmpfiles(tmp_path, ASSETS, made, shallow=False)
    assert (mismatched, errors) == ([], [])
    lock = json.loads((VENDOR / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/swagger-ui-dist"]["version"]
    assert json.loads((ASSETS / "manifest.json").read_text())["version"] == pinned


@pytest.mark.slow
def test_docs_render_every_operation_with_the_network_closed(tmp_path: Path) -> None:
    document = json.loads((Path(__file__).resolve().parents[1] / "openapi" / "openapi.json").read_text())
    operations = {
        op["operationId"] for item in document["paths"].values() for op in item.values() if isinstance(op, dict)
    }
    env = environment(f"sqlite+aiosqlite:///{tmp_path / 'docs.db'}")
    with serving(env) as port, offline_page() as (page, seen):
        page.goto(f"http://127.0.0.1:{port}/docs", timeout=30_000)
        page.wait_for_selector(".opblock", timeout=30_000)
        listed = page.eval_on_selector_all(".opblock", "blocks => blocks.map(b => b.id)")
        title = page.text_content(".info .title") or ""
    assert "supervise" in title
    assert len(listed) == len(operations), (len(listed), len(operations))
    assert seen.refused == [], "the docs asked for something outside the machine"
    assert seen.errors == []
