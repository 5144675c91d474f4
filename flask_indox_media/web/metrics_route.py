"""``GET`` :data:`~flask_indox_media.config.INDOX_MEDIA_METRICS_PATH`: the
Prometheus metrics, aggregated across processes in multiprocess mode (so the
counts of workers sharing this machine's ``PROMETHEUS_MULTIPROC_DIR`` too).

Not authenticated, like a host's own ``/metrics``: keep it off the public
internet (a path the edge proxy does not route, or a private listener).
"""

from __future__ import annotations

from flask import Flask, Response

from .. import metrics
from ..exceptions import ConfigurationError

KEY = "INDOX_MEDIA_METRICS_PATH"


def serve_metrics() -> Response:
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)


def register(app: Flask, path: str | None) -> None:
    """Add the metrics route at ``path`` to ``app`` (nothing when ``None``).

    :raises ConfigurationError: ``prometheus_client`` is not installed.
    """
    if path is None:
        return
    if not metrics.available():
        raise ConfigurationError(
            f"{KEY} is set but prometheus_client is not installed: install the "
            "metrics extra (pip install 'flask-indox-media[metrics]')",
            key=KEY,
        )
    app.add_url_rule(path, "indox_media_metrics", serve_metrics, methods=["GET"])
