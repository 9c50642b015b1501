"""The plugin authors' guide walked in a fresh environment: the core and a scaffolded plugin from their paths."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "templates" / "rubric-plugin"


def run(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600, check=False
    )
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


pytestmark = pytest.mark.slow


def test_the_guides_walk_from_an_empty_folder(tmp_path: Path) -> None:
    """docs/plugin-authors.md, section 1: a fresh environment, the core from its checkout, a plugin scaffolded,
    installed, tested and served, then uninstalled. The unrelated "supervise" on PyPI is never involved."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is needed to build the fresh environment (README: pip install uv)")
    venv = tmp_path / ".venv"
    run(uv, "venv", "--quiet", "--python", sys.executable, venv)
    python, supervise = venv / "bin" / "python", venv / "bin" / "supervise"
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("SUPERVISE_") and k != "VIRTUAL_ENV"}
    env = {
        **inherited,  # certificates, proxies and uv's settings, as the author's shell has them
        "HOME": str(tmp_path),
        "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR", str(Path.home() / ".cache" / "uv")),
        "SUPERVISE_DATABASE_URL": f"sqlite:///{tmp_path / 'supervise.db'}",
    }
    run(uv, "pip", "install", "--quiet", "--python", python, ROOT, env=env, cwd=tmp_path)
    assert not (venv / "bin" / "pip").exists()  # a uv environment: `supervise plugins install` must cope

    # scaffold: every name changed
    run(supervise, "plugins", "new", "riverside-competence", env=env, cwd=tmp_path)
    plugin = tmp_path / "riverside-competence"
    assert (plugin / "src" / "riverside_competence" / "__init__.py").is_file()
    assert (plugin / "tests" / "test_riverside_competence.py").is_file()
    pyproject = (plugin / "pyproject.toml").read_text()
    assert 'name = "riverside-competence"' in pyproject
    assert 'riverside-competence = "riverside_competence"' in pyproject
    assert 'dependencies = ["supervise-core>=0.1,<0.2"]' in pyproject
    assert "my_rubric" not in pyproject and "my-rubric" not in pyproject
    assert 'key="riverside-competence"' in (plugin / "src" / "riverside_competence" / "__init__.py").read_text()

    listed = run(supervise, "plugins", "install", "--editable", f"{plugin}[test]", env=env, cwd=tmp_path)
    assert "riverside-competence  riverside-competence  0.1.0    riverside-competence 1.0" in listed
    installed = run(uv, "pip", "list", "--python", python, env=env)
    names = {line.split()[0] for line in installed.splitlines()[2:]}
    assert "supervise-core" in names
    assert "supervise" not in names  # the stranger's 2014 runit tool was never fetched

    # the scaffold's tests pass against the installed core, its app fixture included
    tests = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", plugin / "tests", env=env, cwd=plugin)
    assert "3 passed" in tests

    served = serve_and_get(supervise, env, "/v1/rubrics/riverside-competence")
    assert served["plugin"] == "riverside-competence"
    assert served["title"] == "Riverside clinic competence scale"
    assert served["responses_schema"]["properties"]["items"]["required"] == ["agenda", "summary", "empathy", "repair"]

    assert_broken_plugin_stops_the_server(tmp_path, uv, python, supervise, env)
    run(supervise, "plugins", "uninstall", "clinic-broken", env=env)

    left = run(supervise, "plugins", "uninstall", "riverside-competence", env=env)
    assert "no plugins installed" in left
    refused = subprocess.run(
        [str(supervise), "plugins", "uninstall", "click"], env=env, capture_output=True, text=True, check=False
    )
    assert refused.returncode == 1
    assert "click is installed but is not a supervise plugin" in refused.stderr


def serve_and_get(supervise: Path, env: dict[str, str], path: str) -> dict[str, Any]:
    key = json.loads(
        run(supervise, "orgs", "create", "T", "--admin-name", "A", "--admin-email", "a@t.example", "--json", env=env)
    )["api_key"]
    port = free_port()
    server = subprocess.Popen(
        [str(supervise), "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {key}"})
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    served: dict[str, Any] = json.load(response)
                    return served
            except OSError:
                assert server.poll() is None, server.stderr.read().decode() if server.stderr else "server exited"
                assert time.monotonic() < deadline, "server did not answer"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(10)


BROKEN = """
from supervise.rubrics import Item, OrdinalScale, Rubric, Subscale, hookimpl

@hookimpl
def supervise_rubrics():
    item = Item(key="a", label="A", scale=OrdinalScale(min=1, max=5))
    return [Rubric(key="broken", version="1", title="Broken", description="", citation="", licence="",
                   manual_version="1", rater_roles=("supervisor",), items=(item,),
                   subscales=(Subscale(key="s", label="S", items=("ghost",)),))]
"""


def assert_broken_plugin_stops_the_server(
    tmp_path: Path, uv: str, python: Path, supervise: Path, env: dict[str, str]
) -> None:
    plugin = tmp_path / "broken-plugin"
    (plugin / "clinic_broken").mkdir(parents=True)
    (plugin / "clinic_broken" / "__init__.py").write_text(BROKEN)
    (plugin / "pyproject.toml").write_text(
        '[project]\nname = "clinic-broken"\nversion = "0.1"\ndependencies = ["supervise-core"]\n'
        '[project.entry-points.supervise]\nclinic-broken = "clinic_broken"\n'
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
    )
    installing = subprocess.run(
        [str(supervise), "plugins", "install", str(plugin)], env=env, capture_output=True, text=True, check=False
    )
    assert installing.returncode == 1  # installed, and at once told the server would refuse it
    assert "subscale 's' names an unknown item 'ghost'" in installing.stderr
    assert "installed, but the server would not start with these plugins" in installing.stderr
    done = subprocess.run(
        [str(supervise), "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "plugin 'clinic-broken'" in done.stderr
    assert "subscale 's' names an unknown item 'ghost'" in done.stderr
