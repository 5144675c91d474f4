"""Prometheus metrics, when ``prometheus_client`` is installed (the ``metrics``
extra). They live in its default registry: expose them as the host app does
its own (``prometheus_client.make_wsgi_app()``).

* ``indox_media_mirrors_total{asset_class,result}``: objects mirrored
  (``ok``), found already there (``skipped``), or failed (``failed``);
* ``indox_media_mirrored_bytes_total{asset_class}``;
* ``indox_media_mirror_seconds{asset_class}``: upload latency (histogram);
* ``indox_media_queue_depth{queue}``: jobs waiting, updated as mirrors run.
"""

from __future__ import annotations

from typing import Any

from .signals import asset_mirrored, mirror_failed

_metrics: dict[str, Any] = {}


def install() -> bool:
    """Create the metrics and connect them to the signals, once per process.

    :returns: whether ``prometheus_client`` is available.
    """
    if _metrics:
        return True
    try:
        from prometheus_client import Counter, Gauge, Histogram
    except ImportError:
        return False
    _metrics["mirrors"] = Counter(
        "indox_media_mirrors", "Mirror attempts by result", ["asset_class", "result"]
    )
    _metrics["bytes"] = Counter(
        "indox_media_mirrored_bytes", "Bytes written to storage", ["asset_class"]
    )
    _metrics["seconds"] = Histogram(
        "indox_media_mirror_seconds", "Upload latency of a mirror", ["asset_class"]
    )
    _metrics["depth"] = Gauge(
        "indox_media_queue_depth", "Mirror jobs waiting", ["queue"]
    )
    asset_mirrored.connect(_mirrored, weak=False)
    mirror_failed.connect(_failed, weak=False)
    return True


def _depth(state: Any) -> None:
    queue = state.queue
    if queue.name is not None:
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
