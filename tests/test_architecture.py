"""The house rules that keep a request easy to follow: api -> service -> repository -> tables."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "supervise"
LAYERS = {"tables": 0, "repository": 1, "service": 2, "api": 3}


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_layers_only_import_downwards() -> None:
    checked = 0
    for path in SRC.glob("*/*.py"):
        role = path.stem
        if role not in LAYERS:
            continue
        for module in imports(path):
            parts = module.split(".")
            if parts[0] != "supervise" or parts[-1] not in LAYERS:
                continue
            assert LAYERS[parts[-1]] <= LAYERS[role], f"{path.relative_to(SRC)} imports {module}"
        checked += 1
    assert checked >= 10


def test_no_sql_in_controllers_and_no_http_in_services() -> None:
    for path in SRC.glob("*/api.py"):
        assert not any(m.startswith("sqlalchemy") and m != "sqlalchemy.ext.asyncio" for m in imports(path)), path
    for path in [*SRC.glob("*/service.py"), *SRC.glob("*/repository.py"), *SRC.glob("*/tables.py")]:
        assert not any(m.startswith("litestar") or m == "supervise.http" for m in imports(path)), path


def test_no_module_level_app_engine_or_settings() -> None:
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                called = ast.unparse(node.value.func)
                assert not called.endswith(("create_app", "create_async_engine", "Settings", "from_env")), (
                    f"{path.relative_to(SRC)}: {ast.unparse(node)}"
                )
