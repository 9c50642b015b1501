"""``supervise plugins ...``: installing, removing, listing and scaffolding rubric plugins.

Plugins are installed into the interpreter that runs the server (``sys.executable``), never into whatever
``pip`` comes first on the PATH: with the environment's own pip when it has one, otherwise with uv (a
uv-created virtual environment has no pip), the way ``datasette install`` does it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click

from supervise.config import Settings
from supervise.rubrics.registry import ENTRY_POINT_GROUP, RubricError, load_registry

__all__ = [
    "CORE_DISTRIBUTION",
    "PluginCommandError",
    "commands",
    "installer",
    "plugin_distributions",
    "scaffold",
    "template_directory",
    "uninstaller",
]

CORE_DISTRIBUTION = "supervise-core"
TEMPLATE_NAMES = ("my-rubric", "my_rubric", "MY_RUBRIC")
"""The names the template uses for its distribution and rubric key, its module, and its rubric constant."""
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_SKIPPED = {"__pycache__", ".pytest_cache", ".hypothesis", ".venv", "build", "dist"}


class PluginCommandError(Exception):
    """The command cannot do what was asked; the message says why and what to do instead."""


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _base(command: str) -> list[str]:
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip", command]
    uv = shutil.which("uv")
    if uv is not None:
        return [uv, "pip", command, "--python", sys.executable]
    raise PluginCommandError(
        f"the server's environment ({sys.prefix}) has no pip, and uv is not on the PATH: install uv "
        "(https://docs.astral.sh/uv/), or pip into that environment, and run this again"
    )


def installer(specs: list[str], *, editable: bool, upgrade: bool) -> list[str]:
    """The command that installs ``specs`` (paths or distribution names, as pip takes them) into the server's
    interpreter."""
    command = _base("install")
    if upgrade:
        command.append("--upgrade")
    for spec in specs:
        command += ["--editable", spec] if editable else [spec]
    return command


def plugin_distributions() -> dict[str, str]:
    """Installed distributions that provide a supervise plugin, normalised name -> the name as published."""
    found = {}
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.dist is not None:
            found[_normalise(entry_point.dist.name)] = entry_point.dist.name
    return found


def uninstaller(names: list[str]) -> list[str]:
    """The command that removes the plugin distributions ``names``; refuses anything that is not one."""
    plugins = plugin_distributions()
    faults = []
    for name in names:
        if _normalise(name) == CORE_DISTRIBUTION:
            faults.append(f"{name} is supervise itself, not a plugin")
        elif _normalise(name) not in plugins:
            faults.append(_not_a_plugin(name))
    if faults:
        raise PluginCommandError("; ".join(faults))
    command = _base("uninstall")
    if command[-1] == "uninstall":  # pip asks for confirmation; uv does not
        command.append("--yes")
    return command + [plugins[_normalise(name)] for name in names]


def _not_a_plugin(name: str) -> str:
    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        installed = ", ".join(sorted(plugin_distributions().values())) or "none"
        return f"{name} is not installed (installed plugins: {installed})"
    return (
        f"{name} is installed but is not a supervise plugin (it has no entry point in the '{ENTRY_POINT_GROUP}' group)"
    )


def template_directory() -> Path:
    """The rubric plugin template: packaged inside supervise, or ``templates/rubric-plugin`` of a checkout."""
    packaged = Path(__file__).parent / "template"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "templates" / "rubric-plugin"


def scaffold(name: str, directory: Path) -> list[Path]:
    """Copy the template to ``directory`` as plugin ``name``: the distribution, the rubric's key and the entry
    point become ``name``, the module ``name`` with underscores, the test file ``test_<module>.py``. The files
    written, relative to ``directory``."""
    if not _NAME.match(name) or len(name) > 64:
        raise PluginCommandError(
            f"'{name}' cannot name a plugin: use lower-case letters, digits and single dashes, starting with a "
            "letter, at most 64 characters (it becomes the distribution, the rubric's key and, with underscores, "
            "the module)"
        )
    module = name.replace("-", "_")
    if _normalise(name) == CORE_DISTRIBUTION or importlib.util.find_spec(module) is not None:
        raise PluginCommandError(f"'{name}' is taken: a module named {module} is already importable here")
    if directory.exists():
        raise PluginCommandError(f"{directory} already exists: choose another NAME or --directory")
    replacements = dict(zip(TEMPLATE_NAMES, (name, module, module.upper()), strict=True))
    template = template_directory()
    written = []
    for source in sorted(template.rglob("*")):
        relative = source.relative_to(template)
        if not source.is_file() or _SKIPPED & set(relative.parts) or source.suffix == ".pyc":
            continue
        target = directory / Path(*(_renamed(part, replacements) for part in relative.parts))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_renamed(source.read_text(encoding="utf-8"), replacements), encoding="utf-8")
        written.append(target.relative_to(directory))
    return written


def _renamed(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text


@click.group("plugins")
def commands() -> None:
    """Install, remove and start rubric plugins, in the environment that runs the server."""


@commands.command("list")
def list_plugins() -> None:
    """The plugins this server loads (SUPERVISE_PLUGINS narrows them), and what they provide."""
    try:
        registry = load_registry(Settings.from_env().plugin_allow_list)
    except RubricError as exc:
        raise click.ClickException(str(exc)) from None
    if not registry.plugins:
        click.echo("no plugins installed: supervise serves no rubric (see 'supervise plugins install')")
        return
    rows = [("PLUGIN", "DISTRIBUTION", "VERSION", "RUBRICS")]
    for plugin in registry.plugins:
        provided = ", ".join(f"{key} {version}" for key, version in plugin.rubrics) or "-"
        rows.append((plugin.name, plugin.distribution, plugin.version, provided))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[3])


def _run_then_list(command: list[str]) -> None:
    click.echo("$ " + " ".join(command), err=True)
    done = subprocess.run(command, check=False)  # noqa: S603 (our own installer command, no shell)
    if done.returncode != 0:
        raise click.ClickException(f"{Path(command[0]).name} failed (exit status {done.returncode}); nothing changed")
    # a fresh interpreter: this one's import path predates what was just installed
    listed = subprocess.run([sys.executable, "-m", "supervise", "plugins", "list"], check=False)
    if listed.returncode != 0:
        raise click.ClickException("installed, but the server would not start with these plugins (see above)")


@commands.command("install")
@click.argument("specs", nargs=-1, required=True)
@click.option("-e", "--editable", is_flag=True, help="Install paths in development mode (pip install -e).")
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade what is already installed.")
def install_plugins(specs: tuple[str, ...], editable: bool, upgrade: bool) -> None:
    """Install plugins (paths, or distribution names from your package index) into this server's interpreter,
    then list what it loads."""
    try:
        command = installer(list(specs), editable=editable, upgrade=upgrade)
    except PluginCommandError as exc:
        raise click.ClickException(str(exc)) from None
    _run_then_list(command)


@commands.command("uninstall")
@click.argument("names", nargs=-1, required=True)
def uninstall_plugins(names: tuple[str, ...]) -> None:
    """Remove plugin distributions from this server's interpreter, then list what it still loads. Reviews made
    with their rubrics keep their scores and definitions (the database's snapshots)."""
    try:
        command = uninstaller(list(names))
    except PluginCommandError as exc:
        raise click.ClickException(str(exc)) from None
    _run_then_list(command)


@commands.command("new")
@click.argument("name")
@click.option(
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write it (default: ./NAME).",
)
def new_plugin(name: str, directory: Path | None) -> None:
    """Start a rubric plugin from the template: distribution, module, entry point, rubric key and test file all
    named after NAME (for example riverside-competence)."""
    target = directory or Path(name)
    try:
        written = scaffold(name, target)
    except PluginCommandError as exc:
        raise click.ClickException(str(exc)) from None
    for path in written:
        click.echo(str(target / path))
    click.echo(
        f"\nNext:\n  supervise plugins install --editable '{target}[test]'\n  pytest {target}\n  supervise serve",
        err=True,
    )
