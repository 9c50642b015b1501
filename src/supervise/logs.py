"""Structured logs: one JSON object per line, through the standard ``logging`` configuration and
``python-json-logger``, each with the request id of the request it was logged in.

Logs carry ids, never health data and never credentials: no recording URI, no comment or annotation text, no
client form link's token (the access log shows ``/v1/forms/{token}``), no request or response body
(``tests/test_logs.py`` walks the whole story on a live server and searches everything logged for them).
"""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar
from typing import Any

from litestar.logging.config import LoggingConfig
from pythonjsonlogger.core import RESERVED_ATTRS

__all__ = ["REQUEST_ID", "FormTokenFilter", "RequestIdFilter", "app_logging", "server_logging"]

REQUEST_ID: ContextVar[str | None] = ContextVar("supervise_request_id", default=None)
"""The id of the request being served (set by ``supervise.dependencies.Authentication``)."""

_JSON: dict[str, Any] = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s %(process)d",
    "rename_fields": {"levelname": "level", "name": "logger", "process": "pid"},
    "timestamp": "time",  # ISO 8601, UTC
    "reserved_attrs": [*RESERVED_ATTRS, "color_message"],  # uvicorn's copy of the message with colours
}
_FILTERS = {
    "request_id": {"()": "supervise.logs.RequestIdFilter"},
    "form_tokens": {"()": "supervise.logs.FormTokenFilter"},
}


class RequestIdFilter(logging.Filter):
    """Gives each record the id of the request it was logged in (``None`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


_FORM_TOKEN = re.compile(r"(/v1/forms/)[^/?#\s\"]+")


class FormTokenFilter(logging.Filter):
    """Keeps client form links' tokens (``/v1/forms/{token}``: a credential) out of the access log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _FORM_TOKEN.sub(r"\1{token}", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def app_logging() -> LoggingConfig:
    """The application's logging (what Litestar configures at start): JSON lines on stderr, through Litestar's
    queue handler, the request id added in the thread that logged."""
    config = LoggingConfig(
        formatters={"standard": _JSON},
        filters=_FILTERS,
        loggers={"litestar": {"level": "INFO", "handlers": ["queue_listener"], "propagate": False}},
        # supervise.* propagates to the root logger, which Litestar gives the same handler
        log_exceptions="never",  # an unexpected error is logged once, by supervise.http, with its request id
    )
    config.handlers = {name: dict(handler) for name, handler in config.handlers.items()}
    config.handlers["queue_listener"]["filters"] = ["request_id"]
    return config


def server_logging() -> dict[str, Any]:
    """uvicorn's logging for ``supervise serve``: its own and its access log as JSON lines, like the app's."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": _JSON},
        "filters": _FILTERS,
        "handlers": {
            "default": {**handler, "stream": "ext://sys.stderr"},
            "access": {**handler, "stream": "ext://sys.stdout", "filters": ["request_id", "form_tokens"]},
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }
