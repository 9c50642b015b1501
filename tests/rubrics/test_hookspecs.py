"""The plugin contract documents itself: every hook says when it is called and what it must return."""

from __future__ import annotations

import inspect

from supervise.rubrics import hookspecs


def test_every_hook_is_documented_and_typed() -> None:
    hooks = [obj for name, obj in vars(hookspecs).items() if name.startswith("supervise_") and callable(obj)]
    assert hooks
    for hook in hooks:
        doc = inspect.getdoc(hook) or ""
        assert "Called" in doc, f"{hook.__name__}: say when the hook is called"
        assert "Return" in doc, f"{hook.__name__}: say what it must return"
        signature = inspect.signature(hook)
        assert signature.return_annotation is not inspect.Signature.empty, hook.__name__
