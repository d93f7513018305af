"""Prometheus metrics at ``GET /metrics`` (prometheus-flask-exporter and prometheus_client).

What is exported:

- requests per endpoint (the Flask endpoint name, not the path, so case numbers do not become labels):
  ``flask_http_request_duration_seconds{method,endpoint,status}`` (a histogram: its ``_count`` is the
  request rate, its buckets the latency) and ``flask_http_request_total{method,status}``;
- events counted where they happen, through the functions below, so any package (express included,
  for Kuaidi100's receipts) increments them without owning a metric: ``delivery_receipts_applied_total
  {channel,provider,status}``, ``booking_conflicts_total{reason}``, ``face_verification_seconds{outcome}``;
- values computed at scrape time by collectors packages register (``register_scrape_collector``): the
  outbox by status and the age of its oldest waiting rows (notifications), and here the depth of every
  Celery queue, asked of the broker (Redis or the SQL transport alike) — ``celery_queue_messages{queue}``
  and ``celery_broker_up``.

Several processes: with ``PROMETHEUS_MULTIPROC_DIR`` set (``scripts/run.sh`` sets and empties it before
starting gunicorn and the Celery workers, and gunicorn's ``child_exit`` hook marks dead workers), every
process of the host writes its counters and histograms to that directory and any web process's
``/metrics`` adds them all up — so the face latency observed in a face worker shows at the web's
``/metrics``. Without it, each process reports its own (one web process in the embedded default).

Not public: with ``METRICS_TOKEN`` set a scraper sends ``Authorization: Bearer <token>``; without it only
loopback clients (a scraper or sidecar on the same host) are answered. Everyone else gets 404.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Callable, Iterable

from flask import Flask, Response, current_app, request
from flask_smorest import Blueprint
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_flask_exporter import PrometheusMetrics

from mobile_api.errors import Problem

log = logging.getLogger(__name__)

LOOPBACK = {"127.0.0.1", "::1"}
_SCRAPE_KEY = "metrics_scrape_collectors"

# --- events, counted in the process where they happen ------------------------------------------

RECEIPTS_APPLIED = Counter(
    "delivery_receipts_applied_total",
    "Delivery receipts that changed a message's status (SMS providers, couriers)",
    ["channel", "provider", "status"],
)
BOOKING_CONFLICTS = Counter("booking_conflicts_total", "Bookings refused because the place was taken meanwhile", ["reason"])
FACE_VERIFICATION_SECONDS = Histogram(
    "face_verification_seconds",
    "From a face verification's submission to its decision",
    ["outcome"],
    buckets=(0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120),
)


def count_receipt(channel: str, provider: str, status: str) -> None:
    """A receipt applied: ``channel`` ``sms`` or ``courier``, ``provider`` e.g. ``aliyun``/``kuaidi100``."""
    RECEIPTS_APPLIED.labels(channel=channel, provider=provider, status=str(status)).inc()


def count_booking_conflict(reason: str) -> None:
    BOOKING_CONFLICTS.labels(reason=reason).inc()


def observe_face_verification(seconds: float, outcome: str) -> None:
    FACE_VERIFICATION_SECONDS.labels(outcome=str(outcome)).observe(max(0.0, seconds))


# --- scrape-time collectors ---------------------------------------------------------------------

ScrapeCollector = Callable[[], Iterable]


def register_scrape_collector(app: Flask, collect: ScrapeCollector) -> None:
    """``collect()`` runs in the app context at every scrape and yields metric families."""
    app.extensions.setdefault(_SCRAPE_KEY, []).append(collect)


class _AppCollector:
    def __init__(self, collectors: list[ScrapeCollector]) -> None:
        self.collectors = collectors

    def collect(self):
        for collect in self.collectors:
            try:
                yield from collect()
            except Exception as exc:  # one broken source must not blank the whole scrape
                log.warning("metrics collector %s failed: %s", getattr(collect, "__name__", collect), type(exc).__name__)


def celery_queue_depths() -> Iterable:
    """Messages waiting in each queue, asked of the broker (passive declare works on every transport)."""
    from kombu import Connection

    from mobile_api.queues import QueueNames

    depth = GaugeMetricFamily("celery_queue_messages", "Messages waiting in a Celery queue (not yet taken by a worker)", labels=["queue"])
    up = GaugeMetricFamily("celery_broker_up", "Whether the broker answered the scrape's queue-depth questions")
    try:
        with Connection(current_app.config["CELERY_BROKER_URL"], connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
            channel = connection.default_channel
            for queue in QueueNames.all():
                depth.add_metric([queue], _queue_size(channel, queue))
        up.add_metric([], 1)
    except Exception as exc:
        log.warning("broker unavailable for queue depths: %s", type(exc).__name__)
        up.add_metric([], 0)
        yield up
        return
    yield depth
    yield up


def _queue_size(channel, queue: str) -> int:
    try:
        return channel.queue_declare(queue=queue, passive=True).message_count
    except Exception:  # a queue nobody declared yet holds nothing
        return 0


# --- the endpoint -------------------------------------------------------------------------------


def _allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN") or ""
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return bool(given) and hmac.compare_digest(given.encode(), token.encode())
    return request.remote_addr in LOOPBACK


metrics_blp = Blueprint("metrics", __name__, description="Prometheus 指标（运维，不公开）")


@metrics_blp.route("/metrics")
@metrics_blp.doc(
    responses={200: {"description": "Prometheus text format"}, 404: {"description": "Not a loopback client and no valid token"}},
    security=[{"bearerAuth": []}],
)
def metrics_view() -> Response:
    """Prometheus metrics: requests, outbox, queue depths, receipts, bookings, face latency (METRICS_TOKEN)."""
    if not _allowed():
        raise Problem(404, "not_found", "未找到")
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_AppCollector(current_app.extensions.get(_SCRAPE_KEY, [])))
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        everything = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(everything)
        parts = [everything, scrape]
    else:
        parts = [current_app.extensions["metrics"].registry, REGISTRY, scrape]
    return Response(b"".join(generate_latest(part) for part in parts), mimetype=None, content_type=CONTENT_TYPE_LATEST)


def init_metrics(app: Flask) -> None:
    """Request metrics for this app (its own registry: several apps in one process never collide), the
    ``/metrics`` endpoint, and the platform's own scrape collector (queue depths)."""
    exporter = PrometheusMetrics(
        app,
        path=None,
        registry=CollectorRegistry(auto_describe=False),
        group_by="endpoint",
        excluded_paths=["^/metrics$"],
    )
    app.extensions["metrics"] = exporter
    from mobile_api.extensions import api

    api.register_blueprint(metrics_blp)
    register_scrape_collector(app, celery_queue_depths)
