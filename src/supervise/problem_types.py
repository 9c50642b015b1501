"""The problem-type catalogue over HTTP: ``GET /problems`` lists it, ``GET /problems/{slug}`` answers
one entry (so a type URI's path resolves on every server), and :func:`markdown` writes docs/problems.md."""

from __future__ import annotations

import re
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.openapi.spec import Example
from litestar.params import PathParameter

from supervise import problems
from supervise.errors import NotFound
from supervise.http import problem_responses
from supervise.problems import CATALOGUE, ProblemType

__all__ = ["ProblemTypeController", "markdown"]


class ProblemTypeOut(msgspec.Struct, kw_only=True):
    type: str
    """The URI a problem's ``type`` carries."""
    slug: str
    status: int
    title: str
    description: str
    extensions: list[str]
    """Extension members that carry ids the client needs, present whenever the id is known."""


class ProblemTypeList(msgspec.Struct, kw_only=True):
    items: list[ProblemTypeOut]


def _out(kind: ProblemType) -> ProblemTypeOut:
    return ProblemTypeOut(
        type=kind.uri,
        slug=kind.slug,
        status=kind.status,
        title=kind.title,
        description=kind.description,
        extensions=list(kind.extensions),
    )


_ALL = ProblemTypeList(items=[_out(kind) for kind in CATALOGUE.values()])
_EXAMPLE = msgspec.to_builtins(_out(problems.DRAFT_EXISTS))

Slug = Annotated[str, PathParameter(max_length=64, pattern=r"^[a-z0-9-]+$", description="e.g. draft-exists")]


class ProblemTypeController(Controller):
    tags = ["Problems"]
    security = [{}]

    @get(
        "/problems",
        operation_id="listProblemTypes",
        summary="List the problem types",
        description="Every `type` a problem+json answer can carry, with its status, title, when it is raised and "
        "the extension members it carries. Needs no API key.",
        responses=problem_responses(),
        response_description="The catalogue",
        examples=[Example(summary="The catalogue", value={"items": [_EXAMPLE]})],
    )
    async def list_problem_types(self) -> ProblemTypeList:
        return _ALL

    @get(
        "/problems/{slug:str}",
        operation_id="getProblemType",
        summary="Describe one problem type",
        description="What a type URI `https://supervise.dev/problems/{slug}` means. Needs no API key.",
        responses=problem_responses(400, 404),
        examples=[Example(summary="draft-exists", value=_EXAMPLE)],
    )
    async def get_problem_type(self, slug: Slug) -> ProblemTypeOut:
        kind = CATALOGUE.get(slug)
        if kind is None:
            raise NotFound("problem type")
        return _out(kind)


def _when(description: str) -> str:
    """The situation, for the summary table: the description up to its first full stop, colon or semicolon."""
    found = re.match(r"(.+?)[.:;](?:\s|$)", description)
    return found.group(1) if found else description


def markdown() -> str:
    """docs/problems.md: the catalogue for people (``uv run python -m supervise.problem_types``)."""
    lines = [
        "# Problem types",
        "",
        "<!-- Generated from src/supervise/problems.py: uv run python -m supervise.problem_types "
        "> docs/problems.md -->",
        "",
        "Every error is an RFC 9457 `application/problem+json` body whose `type` names its cause. Branch on `type`;",
        "`detail` is for people and may change. `errors` lists `{field, message}` where a field is at fault. A",
        "server answers `GET /problems` with this list and `GET /problems/{slug}` with one entry.",
        "",
        "| type | status | raised when | extensions |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| [`{kind.slug}`](#{kind.slug}) | {kind.status} | {_when(kind.description)} | "
        f"{', '.join(f'`{name}`' for name in kind.extensions)} |"
        for kind in CATALOGUE.values()
    ]
    for kind in CATALOGUE.values():
        lines += ["", f"## {kind.slug}", "", f"`{kind.uri}` · {kind.status} {kind.title}", "", kind.description]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
