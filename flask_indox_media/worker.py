"""The RQ worker class that recovers from a crashed predecessor in seconds.

With RQ's defaults a worker killed mid-job (``SIGKILL``, an OOM kill, a lost
machine) leaves its job in the started registry until the heartbeat expires
(~90 s), and only registry maintenance (every 10 minutes) retries it; its
retry then waits for a scheduler, whose lock the dead worker may hold for
another minute: ~13 minutes in all. :class:`IndoxWorker` shortens each step:

* at start (and at each maintenance round), a scheduler lock whose owner is
  dead (no beat for 10 s, or no such process on this host) is released, so
  this worker's scheduler takes over at once;
* at start, with ``sole_consumer``, every job still marked started on its
  queues is taken as abandoned (no other worker can be running it) and
  retried by its policy;
* a job's heartbeat lives 45 s less (an abandoned job is seen in ~45 s with
  several workers), maintenance runs every 15 s, the worker key lives 30 s
  (a fixed ``--name`` can be reused soon after a crash);
* maintenance also re-runs storing jobs whose failure was transient (the
  storage or the source was down longer than every retry), so an asset is
  stored within 2 minutes after the fault clears; see ``docs/reliability.rst``.

Use it with ``rq worker -w flask_indox_media.worker.IndoxWorker`` (or the
extension's worker command).
"""

from __future__ import annotations

import gc
import os
import socket
from datetime import timedelta
from typing import Any

from flask import has_app_context
from rq import Worker
from rq.exceptions import SchedulerNotFound
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.scheduler import RQScheduler
from rq.scripts import release_lock
from rq.utils import current_timestamp, now

from .appload import worker_app
from .exceptions import NoAppError
from .mirror.download import STORING_JOBS
from .queue import requeue_transient
from .state import current_state

#: Seconds between maintenance rounds (RQ's default: 600).
MAINTENANCE_INTERVAL = 15
#: Seconds a worker's key outlives its last heartbeat (RQ's default: 420).
WORKER_TTL = 30
#: Seconds taken off RQ's job heartbeat TTL (job monitoring interval + 60).
HEARTBEAT_CUT = 45
#: A scheduler whose last heartbeat is older than this is dead (it beats
#: every second).
SCHEDULER_STALE_AFTER = 10
#: A transiently failed storing job is re-run this long after its failure.
REQUEUE_AFTER = 60
#: The environment variable that turns ``sole_consumer`` on (``1``).
SOLE_CONSUMER_ENV = "INDOX_WORKER_SOLE_CONSUMER"


def _scheduler_dead(name: str, connection: Any) -> bool:
    """Whether the scheduler ``name`` is gone: no record, no recent beat, or
    (on this host) no process with its pid, as right after a ``SIGKILL``."""
    try:
        scheduler = RQScheduler.fetch(name, connection)
    except SchedulerNotFound:
        return True
    beat = scheduler.last_heartbeat
    if beat is None or beat < now() - timedelta(seconds=SCHEDULER_STALE_AFTER):
        return True
    if scheduler.hostname != socket.gethostname():
        return False
    try:
        os.kill(scheduler.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class IndoxWorker(Worker):
    """An :class:`rq.Worker` that picks up a crashed worker's jobs within
    seconds of its start (see the module's notes). It runs a scheduler
    (mirror retries are scheduled jobs), even under the stock ``rq worker``
    without ``--with-scheduler``, unless :attr:`force_scheduler` is ``False``.

    :param sole_consumer: this worker is the only one on its queues, so any
        job marked started at its start was abandoned. Wrong with several
        workers (it would re-run their running jobs; mirror jobs are
        idempotent, but twice the work). Default: the
        ``INDOX_WORKER_SOLE_CONSUMER`` environment variable (not
        ``INDOX_MEDIA_``: that prefix is the app config's) (``1``).

    Intervals longer than this class's (RQ CLI defaults included) are
    shortened to them.
    """

    #: Run a scheduler whatever ``work()`` is told (``flask indox-media
    #: worker --without-scheduler`` turns it off).
    force_scheduler = True

    def __init__(
        self, *args: Any, sole_consumer: bool | None = None, **kwargs: Any
    ) -> None:
        kwargs.pop("default_worker_ttl", None)  # deprecated by RQ
        kwargs["worker_ttl"] = min(kwargs.get("worker_ttl") or WORKER_TTL, WORKER_TTL)
        kwargs["maintenance_interval"] = min(
            kwargs.get("maintenance_interval") or MAINTENANCE_INTERVAL,
            MAINTENANCE_INTERVAL,
        )
        super().__init__(*args, **kwargs)
        if sole_consumer is None:
            sole_consumer = os.environ.get(SOLE_CONSUMER_ENV, "") in ("1", "true")
        self.sole_consumer = sole_consumer

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        """RQ's start-up, then a dead predecessor's scheduler lock released
        and (as sole consumer) its abandoned jobs retried; and the app and its
        storage clients made ready, once, for every work horse to inherit."""
        super().bootstrap(*args, **kwargs)
        # In the parent, before the scheduler starts (work() calls this first).
        self.release_dead_scheduler_locks()
        if self.sole_consumer:
            self.retry_abandoned()
        self.preload()

    def preload(self) -> None:
        """Load the app (unless a context is pushed: ``flask indox-media
        worker``) and warm its storage clients here, in the parent: each
        forked work horse then starts from them instead of paying again."""
        if has_app_context():
            current_state().catalog.warm()
        else:
            try:
                app = worker_app()
            except NoAppError as exc:
                # The worker may serve other queues; the jobs that need the app
                # will fail, once each, saying what is missing.
                self.log.warning("indox-media: %s", exc)
                return
            with app.app_context():
                current_state().catalog.warm()
        gc.freeze()  # keep the loaded objects' pages shared with the horses

    def work(self, *args: Any, **kwargs: Any) -> bool:
        """RQ's work loop, with a scheduler unless told otherwise (mirror
        retries are scheduled jobs)."""
        if self.force_scheduler:
            kwargs["with_scheduler"] = True
        return bool(super().work(*args, **kwargs))

    def release_dead_scheduler_locks(self) -> list[str]:
        """Release the scheduler lock of each queue whose holder stopped
        beating; returns the queue names."""
        released = []
        for queue in self.queues:
            key = RQScheduler.get_locking_key(queue.name)
            owner = self.connection.get(key)
            if owner is None:
                continue
            name = owner.decode() if isinstance(owner, bytes) else str(owner)
            if _scheduler_dead(name, self.connection) and release_lock(
                self.connection, key, name
            ):
                self.log.info("released %s's scheduler lock of %s", name, queue.name)
                released.append(queue.name)
        return released

    def retry_abandoned(self) -> None:
        """Take every job marked started on this worker's queues as abandoned
        (only right when no other worker consumes them) and retry it by its
        policy, or fail it."""
        for queue in self.queues:
            # Its cleaning lock may be a crashed worker's (held 15 minutes).
            self.connection.delete(queue.registry_cleaning_key)
            StartedJobRegistry(queue=queue).cleanup(
                timestamp=current_timestamp() + 10**8,
                exception_handlers=self._exc_handlers,
            )

    def run_maintenance_tasks(self) -> None:
        """RQ's maintenance, after releasing a dead scheduler's lock; then
        storing jobs that failed transiently are re-run."""
        # RQ only tries to take a free lock here; a dead holder's would block
        # it until its TTL (a minute) runs out.
        self.release_dead_scheduler_locks()
        super().run_maintenance_tasks()  # type: ignore[no-untyped-call]
        for queue in self.queues:
            requeue_transient(queue, STORING_JOBS, min_age=REQUEUE_AFTER)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """RQ's job heartbeat TTL, 45 s shorter (35 s at least)."""
        # RQ's is the monitoring interval (30 s) + 60: 45 s still covers a
        # beat every 30 s, and an abandoned job is noticed sooner.
        return max(
            int(super().get_heartbeat_ttl(job, working_time)) - HEARTBEAT_CUT, 35
        )
