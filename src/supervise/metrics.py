"""``GET /metrics``: Prometheus text format, through Litestar's Prometheus plugin and ``prometheus-client``.

Requests are counted by route template (never a path with ids in it) and status, with latency histograms
(``supervise_requests_total``, ``supervise_request_duration_seconds``, …); beside them, the database
connections in use, the sizes of the audit read log's groups, and the requests refused by a rate limit.

Several workers (``supervise serve --workers N``) use prometheus-client's multiprocess mode: ``serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before the workers start, each worker writes its samples
there, and whichever worker answers a scrape sums them all.
"""

from __future__ import annotations

import os

from litestar.middleware import DefineMiddleware
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from prometheus_client import Counter, Gauge, Histogram

__all__ = ["MetricsController", "connections_in_use", "middleware", "rate_limited", "read_group_size"]

if shared := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # prometheus-client refuses a directory that is missing
    os.makedirs(shared, mode=0o700, exist_ok=True)

connections_in_use = Gauge(
    "supervise_db_connections_in_use",
    "Database connections checked out of the pool",
    multiprocess_mode="livesum",
)
read_group_size = Histogram(
    "supervise_audit_read_group_size",
    "Requests whose audited reads one group commit of the read log appended",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
rate_limited = Counter("supervise_rate_limited_total", "Requests refused by a rate limit", ["policy"])


def middleware() -> DefineMiddleware:
    """Counts and times every routed request (the outermost of the application's middleware)."""
    return PrometheusConfig(
        app_name="supervise", prefix="supervise", group_path=True, exclude_unhandled_paths=True
    ).middleware


class MetricsController(PrometheusController):
    path = "/metrics"
    include_in_schema = False
