"""Code generators trust the committed document: openapi-python-client generates every operation, warning-free."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCUMENT = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"
METHODS = {"get", "post", "put", "patch", "delete"}


def _snake(operation_id: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation_id).lower()


@pytest.mark.slow
def test_openapi_python_client_generates_every_operation_without_warnings(tmp_path: Path) -> None:
    tools = str(Path(sys.executable).parent)  # the project's environment: the generator, and ruff that it runs
    done = subprocess.run(
        [
            os.path.join(tools, "openapi-python-client"),
            "generate",
            "--path",
            str(DOCUMENT),
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / "client"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PATH": tools + os.pathsep + os.environ.get("PATH", "")},
        check=False,
    )
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    for word in ("warning", "unable", "skipping", "removal", "error"):
        assert word not in said.lower(), said
    document = json.loads(DOCUMENT.read_text())
    operations = {
        _snake(op["operationId"])
        for item in document["paths"].values()
        for method, op in item.items()
        if method in METHODS
    }
    generated = {path.stem for path in (tmp_path / "client" / "api").rglob("*.py") if path.stem != "__init__"}
    assert generated == operations
