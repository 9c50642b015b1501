"""The template plugin, installed into a fresh environment beside the core, as a third-party author would."""

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


def test_template_installs_is_discovered_and_served(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is needed to build the fresh environment (README: pip install uv)")
    venv = tmp_path / "venv"
    run(uv, "venv", "--quiet", "--python", sys.executable, venv)
    python, supervise = venv / "bin" / "python", venv / "bin" / "supervise"
    run(uv, "pip", "install", "--quiet", "--python", python, ROOT, f"{TEMPLATE}[test]")

    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "SUPERVISE_DATABASE_URL": f"sqlite:///{tmp_path / 'supervise.db'}",
    }
    # the template's own tests pass against the installed core
    run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", TEMPLATE / "tests", env=env, cwd=tmp_path)

    # discovered through its entry point: the only plugin in this environment
    listed = run(supervise, "rubrics", "list", env=env)
    assert "my-rubric" in listed
    assert "alliance" not in listed

    # served by a running server
    key = json.loads(
        run(supervise, "orgs", "create", "T", "--admin-name", "A", "--admin-email", "a@t.example", "--json", env=env)
    )["api_key"]
    port = free_port()
    server = subprocess.Popen(
        [str(supervise), "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/rubrics/my-rubric", headers={"Authorization": f"Bearer {key}"}
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    served = json.load(response)
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode() if server.stderr else "server exited"
                assert time.monotonic() < deadline, "server did not answer"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(10)
    assert served["plugin"] == "my-rubric"
    assert_broken_plugin_stops_the_server(tmp_path, uv, python, supervise, env)
    assert served["title"] == "Riverside clinic competence scale"
    assert served["responses_schema"]["properties"]["items"]["required"] == ["agenda", "summary", "empathy", "repair"]


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
        '[project]\nname = "clinic-broken"\nversion = "0.1"\ndependencies = ["supervise"]\n'
        '[project.entry-points.supervise]\nclinic-broken = "clinic_broken"\n'
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
    )
    run(uv, "pip", "install", "--quiet", "--python", python, plugin)
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
