"""The README's "Integrating a clinic system" walk, run as a reader would run it: its blocks, in order, in one
bash shell, against a real ``supervise serve``, with the key "A first request" makes. Each whole-line comment
in a block is what its commands print (``…`` standing for anything), and the walk's output must hold a line
for each."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.rubrics.test_template_install import free_port
from tests.test_serve import SUPERVISE, environment, serving

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
WALK_TOOLS = ("curl", "jq", "openssl", "uv")


def blocks(section: str) -> list[str]:
    """The indented code blocks of the README section headed ``section``, dedented."""
    text = README.read_text()
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    assert "```" not in text[start:end], f"{section}: a fenced block would not be run; indent it"
    found: list[str] = []
    current: list[str] = []
    for line in text[start:end].splitlines():
        if line.startswith("    ") or (current and not line.strip()):
            current.append(line[4:])
        elif current:
            found.append("\n".join(current).strip("\n"))
            current = []
    if current:
        found.append("\n".join(current).strip("\n"))
    return found


def expected_lines(script: str) -> list[re.Pattern[str]]:
    """The whole-line comments of ``script`` as patterns of a printed line (``…`` matches anything)."""
    patterns = []
    for line in script.splitlines():
        stripped = line.strip()
        if stripped.startswith("# "):
            parts = (re.escape(part) for part in stripped[2:].split("…"))
            patterns.append(re.compile(".*".join(parts)))
    return patterns


def test_the_walk_is_what_the_readme_says() -> None:
    walk = blocks("Integrating a clinic system")
    assert walk[0].splitlines()[:2] == ["API=http://127.0.0.1:8000", "HOOK_PORT=9000"], walk[0]
    first_request = blocks("A first request")[0]
    assert first_request.startswith("KEY=$(uv run supervise orgs create"), first_request
    patterns = expected_lines("\n".join(walk))
    assert len(patterns) >= 10, patterns


@pytest.mark.slow
def test_a_clinic_system_integrates_as_the_readme_walks(tmp_path: Path) -> None:
    missing_tools = [tool for tool in WALK_TOOLS if shutil.which(tool) is None]
    if missing_tools:
        if IN_CI:
            pytest.fail(f"{missing_tools} missing: .ci/run installs what the README's walk uses")
        pytest.skip(f"the README's walk uses {', '.join(WALK_TOOLS)}; missing: {missing_tools}")
    walk = blocks("Integrating a clinic system")
    hook_port = free_port()
    env = environment(f"sqlite:///{tmp_path / 'walk.db'}", SUPERVISE_WEBHOOK_ALLOW_LOOPBACK="true")
    with serving(env) as port:
        setting = walk[0].replace("API=http://127.0.0.1:8000", f"API=http://127.0.0.1:{port}")
        setting = setting.replace("HOOK_PORT=9000", f"HOOK_PORT={hook_port}")
        first_request = blocks("A first request")[0].replace("http://127.0.0.1:8000", f"http://127.0.0.1:{port}")
        script = "\n\n".join(["set -euo pipefail", first_request, setting, *walk[1:]])
        (tmp_path / "examples").symlink_to(ROOT / "examples")
        shell_env = {
            **env,
            "PATH": f"{Path(SUPERVISE).parent}{os.pathsep}{env['PATH']}",
            "UV_PROJECT": str(ROOT),  # the reader's cwd is the clone; this walk's files go to tmp_path
        }
        walker = subprocess.Popen(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=shell_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = walker.communicate(timeout=180)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(walker.pid, signal.SIGTERM)  # the receiver, if the walk stopped before killing it
    assert walker.returncode == 0, f"the walk failed\n--- stdout\n{out}\n--- stderr\n{err}"
    printed = out.splitlines()
    missing = [p.pattern for p in expected_lines("\n".join(walk)) if not any(p.fullmatch(line) for line in printed)]
    assert not missing, f"the README says these are printed, and they were not: {missing}\n--- stdout\n{out}"
