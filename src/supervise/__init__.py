"""supervise: review recorded therapy sessions and score the therapeutic alliance."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
