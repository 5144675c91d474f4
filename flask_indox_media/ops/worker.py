"""``worker``: an RQ worker on the extension's queue (and the host's own), in
the app's context, optionally serving the metrics of its work horses."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rq import Queue
from rq.worker import BaseWorker
from werkzeug.utils import ImportStringError, import_string

from .. import metrics
from ..exceptions import ConfigurationError
from ..queue import JobQueue
from ..worker import RecoveringWorker

if TYPE_CHECKING:
    from ..state import IndoxMediaState


@dataclass(frozen=True)
class WorkerOptions:
    """What ``flask indox-media worker`` was asked for.

    :ivar queues: further queue names (the extension's is always worked).
    :ivar name: the worker's name; ``None`` lets RQ make a unique one, which a
        restarted worker needs (RQ refuses a name still registered as alive).
    :ivar worker_class: the dotted path of an RQ worker class.
    """

    queues: tuple[str, ...] = ()
    name: str | None = None
    worker_class: str = "flask_indox_media.worker.IndoxWorker"
    max_jobs: int | None = None
    logging_level: str = "INFO"
    with_scheduler: bool = True
    burst: bool = False


def queue_names(own: str, given: Iterable[str]) -> list[str]:
    """The queues to work, in priority order: ``given`` (each item a name or a
    comma-separated list), with ``own`` first unless ``given`` places it."""
    names = [n.strip() for item in given for n in item.split(",") if n.strip()]
    if own not in names:
        names.insert(0, own)
    return list(dict.fromkeys(names))


def worker_class(path: str) -> type[BaseWorker]:
    """The RQ worker class at dotted ``path`` (``rq.Worker``, ``rq.SimpleWorker``,
    and the like: in RQ 3 they share ``rq.worker.BaseWorker``).

    :raises ConfigurationError: it cannot be imported or is not a worker class.
    """
    try:
        found = import_string(path)
    except ImportStringError:
        raise ConfigurationError(f"cannot import worker class {path!r}") from None
    if not (isinstance(found, type) and issubclass(found, BaseWorker)):
        raise ConfigurationError(
            f"{path!r} is not an RQ worker class (rq.worker.BaseWorker)"
        )
    return found


def build_worker(state: IndoxMediaState, options: WorkerOptions) -> BaseWorker:
    """An RQ worker for the app's queue and ``options.queues``.

    :raises ConfigurationError: there is no Redis, or the worker class is wrong.
    """
    queue = state.queue
    if not isinstance(queue, JobQueue):
        raise ConfigurationError(
            "INDOX_MEDIA_REDIS_URL is not set: without Redis, mirroring runs "
            "in-process and there is no queue to work.",
            key="INDOX_MEDIA_REDIS_URL",
        )
    cls = worker_class(options.worker_class)
    queues = [
        queue.rq if name == queue.name else Queue(name, connection=queue.redis)
        for name in queue_names(queue.name, options.queues)
    ]
    worker = cls(queues, connection=queue.redis, name=options.name)
    if isinstance(worker, RecoveringWorker):
        worker.force_scheduler = options.with_scheduler
    return worker


def run(worker: BaseWorker, options: WorkerOptions) -> bool:
    """Work until stopped (or drained, with ``burst``); returns whether any
    job was performed."""
    performed: bool = worker.work(
        burst=options.burst,
        with_scheduler=options.with_scheduler,
        max_jobs=options.max_jobs,
        logging_level=options.logging_level,
    )
    return performed


@contextmanager
def metrics_server(port: int | None) -> Iterator[str | None]:
    """Serve the metrics of this process and its work horses on ``port``
    (nothing when ``None``); yields the multiprocess directory in use.

    With ``PROMETHEUS_MULTIPROC_DIR`` unset, a directory of this worker's own
    is made and removed on exit: the counters restart with the worker, which
    Prometheus's ``rate()`` takes in its stride.

    :raises ConfigurationError: ``prometheus_client`` is not installed.
    """
    if port is None:
        yield os.environ.get(metrics.MULTIPROC_DIR)
        return
    if not metrics.available():
        raise ConfigurationError(
            "--metrics-port needs prometheus_client: install the metrics extra "
            "(pip install 'flask-indox-media[metrics]')"
        )
    own_dir: str | None = None
    if not os.environ.get(metrics.MULTIPROC_DIR):
        own_dir = tempfile.mkdtemp(prefix="indox-media-metrics-")
        metrics.use_multiprocess_dir(own_dir)
    server: Any = metrics.serve(port)
    try:
        yield os.environ[metrics.MULTIPROC_DIR]
    finally:
        server.shutdown()
        server.server_close()
        if own_dir is not None:
            metrics.use_multiprocess_dir(None)
            shutil.rmtree(own_dir, ignore_errors=True)
