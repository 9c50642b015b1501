"""What ``supervise plugins`` runs, and what it refuses, without installing anything."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from supervise import plugins
from supervise.plugins import PluginCommandError, installer, scaffold, uninstaller


def test_install_uses_the_servers_own_pip_when_it_has_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object() if name == "pip" else None)
    assert installer(["./mine"], editable=True, upgrade=False) == [
        sys.executable, "-m", "pip", "install", "--editable", "./mine"
    ]  # fmt: skip


def test_install_without_pip_uses_uv_pointed_at_the_servers_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(plugins.shutil, "which", lambda name: "/opt/uv" if name == "uv" else None)
    command = installer(["supervise-miti"], editable=False, upgrade=True)
    assert command == ["/opt/uv", "pip", "install", "--python", sys.executable, "--upgrade", "supervise-miti"]


def test_without_pip_or_uv_it_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(plugins.shutil, "which", lambda name: None)
    with pytest.raises(PluginCommandError, match="has no pip, and uv is not on the PATH"):
        installer(["x"], editable=False, upgrade=False)


def test_uninstall_refuses_the_core_and_what_is_no_plugin() -> None:
    with pytest.raises(PluginCommandError) as refused:
        uninstaller(["supervise-core", "msgspec", "supervise-nothing", "supervise-miti"])
    message = str(refused.value)
    assert "supervise-core is supervise itself, not a plugin" in message
    assert "msgspec is installed but is not a supervise plugin" in message
    assert "supervise-nothing is not installed (installed plugins: supervise-3rs, " in message
    assert "supervise-miti" not in message.split("installed plugins:")[0]


@pytest.mark.parametrize("name", ["My-Rubric", "2fast", "a--b", "a_b", "trailing-", "x" * 65])
def test_new_refuses_names_that_cannot_be_a_distribution_key_and_module(name: str, tmp_path: Path) -> None:
    with pytest.raises(PluginCommandError, match="cannot name a plugin"):
        scaffold(name, tmp_path / "out")


def test_new_refuses_a_taken_module_or_an_existing_folder(tmp_path: Path) -> None:
    with pytest.raises(PluginCommandError, match="a module named supervise_miti is already importable"):
        scaffold("supervise-miti", tmp_path / "miti")
    (tmp_path / "exists").mkdir()
    with pytest.raises(PluginCommandError, match="already exists"):
        scaffold("clinic-scale", tmp_path / "exists")


def test_new_renames_everything_and_copies_no_cache(tmp_path: Path) -> None:
    written = scaffold("clinic-scale", tmp_path / "clinic-scale")
    assert sorted(map(str, written)) == [
        "README.md",
        "pyproject.toml",
        "src/clinic_scale/__init__.py",
        "tests/test_clinic_scale.py",
    ]
    for path in written:
        text = (tmp_path / "clinic-scale" / path).read_text()
        assert "my_rubric" not in text and "my-rubric" not in text and "MY_RUBRIC" not in text, path
    tests = (tmp_path / "clinic-scale" / "tests" / "test_clinic_scale.py").read_text()
    assert "from clinic_scale import CLINIC_SCALE, supervise_rubrics" in tests
