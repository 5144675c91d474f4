"""Prometheus metrics, when ``prometheus_client`` is installed (the ``metrics``
extra), wired to the signals (:mod:`flask_indox_media.signals`).

* ``indox_media_mirrors_total{asset_class,result}``: objects mirrored
  (``ok``), found already there (``skipped``), or failed (``failed``);
* ``indox_media_mirrored_bytes_total{asset_class}``;
* ``indox_media_mirror_seconds{asset_class}``: upload latency (histogram);
* ``indox_media_queue_depth{queue}``: jobs waiting, updated as mirrors run
  (at most once a second per process: reading it is a Redis round trip).

Mirrors run in RQ work horses, forked per job, so a counter kept in a horse's
memory dies with it. With ``PROMETHEUS_MULTIPROC_DIR`` set (prometheus_client's
multiprocess mode) every process writes its values to files there, and
:func:`registry` aggregates them: that is what ``flask indox-media worker
--metrics-port`` and :data:`~flask_indox_media.config.INDOX_MEDIA_METRICS_PATH`
serve.
"""

from __future__ import annotations

import os
import time
from typing import Any

from .signals import asset_mirrored, mirror_failed

try:
    import prometheus_client
    from prometheus_client import multiprocess, values
except ImportError:  # the metrics extra is not installed
    prometheus_client = None  # type: ignore[assignment]

#: The environment variable of prometheus_client's multiprocess mode.
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"

#: Seconds between two reads of a queue's depth in one process.
DEPTH_EVERY = 1.0

_metrics: dict[str, Any] = {}
#: When this process last read each queue's depth (``time.monotonic()``).
_depth_read: dict[str, float] = {}


def available() -> bool:
    """Whether ``prometheus_client`` is installed."""
    return prometheus_client is not None


def install() -> bool:
    """Create the metrics and connect them to the signals, once per process.

    :returns: whether ``prometheus_client`` is available.
    """
    if _metrics:
        return True
    if prometheus_client is None:
        return False
    _metrics["mirrors"] = prometheus_client.Counter(
        "indox_media_mirrors", "Mirror attempts by result", ["asset_class", "result"]
    )
    _metrics["bytes"] = prometheus_client.Counter(
        "indox_media_mirrored_bytes", "Bytes written to storage", ["asset_class"]
    )
    _metrics["seconds"] = prometheus_client.Histogram(
        "indox_media_mirror_seconds", "Upload latency of a mirror", ["asset_class"]
    )
    # In multiprocess mode a gauge is kept per process; the queue has one
    # depth, so the latest value written by any horse is the one to show.
    _metrics["depth"] = prometheus_client.Gauge(
        "indox_media_queue_depth",
        "Mirror jobs waiting",
        ["queue"],
        multiprocess_mode="mostrecent",
    )
    asset_mirrored.connect(_mirrored, weak=False)
    mirror_failed.connect(_failed, weak=False)
    return True


def use_multiprocess_dir(path: str | None) -> None:
    """Switch this process, and the processes it forks from now on, to
    multiprocess mode, writing to ``path`` (``None``: back to per-process).

    prometheus_client chooses its mode when it is imported (0.26 reads
    ``PROMETHEUS_MULTIPROC_DIR`` once, into ``values.ValueClass``), which in a
    ``flask`` command is before the command runs. Every value made afterwards
    (each labelled series is made on first use, so in the work horse) takes the
    class chosen again here. Metrics without labels made earlier stay
    per-process: set the variable in the environment to cover those too.
    """
    if prometheus_client is None:
        raise RuntimeError("prometheus_client is not installed (the metrics extra)")
    if path is None:
        os.environ.pop(MULTIPROC_DIR, None)
    else:
        os.environ[MULTIPROC_DIR] = path
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def registry() -> Any:
    """The registry to expose: every process's values aggregated from
    ``PROMETHEUS_MULTIPROC_DIR`` when it is set, else this process's default
    registry."""
    if prometheus_client is None:
        raise RuntimeError("prometheus_client is not installed (the metrics extra)")
    if not os.environ.get(MULTIPROC_DIR):
        return prometheus_client.REGISTRY
    aggregated = prometheus_client.CollectorRegistry()
    multiprocess.MultiProcessCollector(aggregated)  # type: ignore[no-untyped-call]
    return aggregated


def exposition() -> tuple[bytes, str]:
    """The metrics in the Prometheus text format, and its content type."""
    body: bytes = prometheus_client.generate_latest(registry())
    return body, str(prometheus_client.CONTENT_TYPE_LATEST)


def serve(port: int, addr: str = "0.0.0.0") -> Any:
    """Serve :func:`registry` on ``addr:port`` from a daemon thread; returns
    the server (``shutdown()`` stops it)."""
    server, _thread = prometheus_client.start_http_server(
        port, addr=addr, registry=registry()
    )
    return server


def _depth(state: Any) -> None:
    # A job's worth of round trips saved: a worker finishes ~10 mirrors a
    # second, and a scrape every 15 s or more sees the same gauge.
    queue = state.queue
    if queue.name is None:
        return
    at = time.monotonic()
    if at - _depth_read.get(queue.name, -DEPTH_EVERY) < DEPTH_EVERY:
        return
    _depth_read[queue.name] = at
    _metrics["depth"].labels(queue.name).set(queue.count())


def _mirrored(
    state: Any, *, asset_class: str, size: int, seconds: float, skipped: bool, **_: Any
) -> None:
    _metrics["mirrors"].labels(asset_class, "skipped" if skipped else "ok").inc()
    if not skipped:
        _metrics["bytes"].labels(asset_class).inc(size)
        _metrics["seconds"].labels(asset_class).observe(seconds)
    _depth(state)


def _failed(state: Any, *, asset_class: str, **_: Any) -> None:
    _metrics["mirrors"].labels(asset_class, "failed").inc()
    _depth(state)
