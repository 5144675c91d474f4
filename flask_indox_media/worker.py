"""The RQ worker classes: they recover from a crashed predecessor in seconds,
and :class:`IndoxWorker`, the default, runs its jobs without a fork.

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

Both classes do all this. :class:`IndoxWorker` (the worker command's default)
runs each job in its own process, like ``rq.SimpleWorker``: a small mirror job
costs the worker ~11 ms of CPU in all, against ~80 ms with a work horse forked
per job (the fork, the copy-on-write faults, and a horse that starts every job
cold: a new S3 client, new connections). It keeps what the fork gave: the
job's time limit (``INDOX_MEDIA_JOB_TIMEOUT``, RQ's ``SIGALRM``), a heartbeat
during a long job (from a thread, as the forking parent beats while it
waits), a stop request (``rq``'s stop-job command, which erasure sends) that
ends the running job, and a fresh app context per job. :class:`IndoxForkingWorker` forks a work
horse per job, for jobs that may crash the interpreter or leak memory.

Use them with ``rq worker -w flask_indox_media.worker.IndoxWorker`` (or the
extension's worker command); see ``docs/workers.rst``.
"""

from __future__ import annotations

import gc
import os
import queue as queue_module
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from types import FrameType
from typing import Any, NamedTuple

from flask import current_app, has_app_context
from redis.exceptions import RedisError
from rq import SimpleWorker, Worker
from rq.exceptions import SchedulerNotFound
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.registry import StartedJobRegistry
from rq.scheduler import RQScheduler
from rq.scripts import release_lock
from rq.timeouts import UnixSignalDeathPenalty
from rq.utils import current_timestamp, now
from rq.worker import BaseWorker, WorkerStatus

from .appload import worker_app
from .bookkeeping import LeanBookkeeping
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
#: The signal :class:`IndoxWorker` sends itself to stop its running job.
STOP_SIGNAL = signal.SIGUSR2


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


class RecoveringWorker(LeanBookkeeping):
    """What both worker classes share: a crashed worker's jobs picked up
    within seconds of the start (see the module's notes). It runs a scheduler
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
        storage clients made ready, once, for every job (or work horse)."""
        super().bootstrap(*args, **kwargs)
        # In the parent, before the scheduler starts (work() calls this first).
        self.release_dead_scheduler_locks()
        if self.sole_consumer:
            self.retry_abandoned()
        self.preload()

    def preload(self) -> None:
        """Load the app (unless a context is pushed: ``flask indox-media
        worker``) and warm its storage clients here, in the parent: each job,
        or forked work horse, then starts from them instead of paying again."""
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
        # The loaded objects out of the collector's way: a full collection
        # does not walk them (and a horse's does not copy their pages).
        gc.freeze()

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
        # beat every 30 s, and an abandoned job is noticed sooner. (Not
        # rq.SimpleWorker's, the job timeout + 60: IndoxWorker beats too.)
        return max(
            int(BaseWorker.get_heartbeat_ttl(self, job, working_time)) - HEARTBEAT_CUT,
            35,
        )


class IndoxForkingWorker(RecoveringWorker, Worker):
    """An :class:`rq.Worker` (a work horse forked per job) that recovers as
    :class:`IndoxWorker` does."""


class JobStopped(Exception):
    """The running job was stopped on request (``rq``'s stop-job command)."""


class _StoppableJob(UnixSignalDeathPenalty):
    """RQ's job time limit (``SIGALRM``), around the job's function only;
    while it is armed a :data:`STOP_SIGNAL` raises :class:`JobStopped`."""

    armed = False

    def setup_death_penalty(self) -> None:
        super().setup_death_penalty()  # type: ignore[no-untyped-call]
        _StoppableJob.armed = True

    def cancel_death_penalty(self) -> None:
        _StoppableJob.armed = False
        super().cancel_death_penalty()  # type: ignore[no-untyped-call]


def _stop_running_job(signum: int, frame: FrameType | None) -> None:
    if _StoppableJob.armed:
        raise JobStopped("the job was stopped on request")


class _Running(NamedTuple):
    """A job the heartbeat thread beats until ``done`` is set."""

    job: Job
    execution: Execution
    done: threading.Event


class IndoxWorker(RecoveringWorker, SimpleWorker):
    """The default worker: jobs run in its own process, no fork (see the
    module's notes), recovering from crashes as :class:`RecoveringWorker`
    says. A job that runs longer than its timeout is interrupted by RQ's
    ``SIGALRM``; a job that crashes the interpreter takes the worker with
    it, and its job is retried as after a ``SIGKILL``."""

    death_penalty_class = _StoppableJob

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The running job for the heartbeat thread, and the lock that keeps a
        # beat from landing after the job's end (it would re-add a finished
        # execution to the started registry).
        self._to_beat: queue_module.SimpleQueue[_Running | None] = (
            queue_module.SimpleQueue()
        )
        self._beat_lock = threading.Lock()

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        """:meth:`RecoveringWorker.bootstrap`, the stop signal's handler, and
        the heartbeat thread (one for every job: starting one per job cost
        ~0.5 ms of a job's CPU)."""
        super().bootstrap(*args, **kwargs)
        signal.signal(STOP_SIGNAL, _stop_running_job)
        threading.Thread(target=self._beat, name="job-heartbeat", daemon=True).start()

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Run ``job`` here, in a fresh app context, its heartbeat kept by the
        heartbeat thread meanwhile."""
        execution = self.prepare_execution(job)
        done = threading.Event()
        self._to_beat.put(_Running(job, execution, done))
        try:
            with _fresh_app_context():
                self.perform_job(job, queue, execution)
        finally:
            with self._beat_lock:  # no beat in flight, none to come
                done.set()
        self.set_state(WorkerStatus.IDLE)

    def teardown(self) -> None:
        """RQ's, and the heartbeat thread ended."""
        self._to_beat.put(None)
        super().teardown()  # type: ignore[no-untyped-call]

    def _beat(self) -> None:
        # What rq.Worker's parent does while it waits for its horse.
        while (running := self._to_beat.get()) is not None:
            job, execution, done = running
            while not done.wait(self.job_monitoring_interval):
                with self._beat_lock:
                    if done.is_set():
                        break
                    try:
                        self.maintain_heartbeats(job, execution)
                    except RedisError as exc:  # the next beat may get through
                        self.log.warning("heartbeat of job %s failed: %s", job.id, exc)

    def kill_horse(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Stop the running job (RQ calls this from its command thread after a
        stop-job command): it fails as stopped, and the worker goes on."""
        if _StoppableJob.armed:
            signal.pthread_kill(threading.main_thread().ident or 0, STOP_SIGNAL)


@contextmanager
def _fresh_app_context() -> Iterator[None]:
    """A new app context for a job (its own ``g``) when the worker command
    pushed one; a plain ``rq worker`` job pushes its own (see ``jobs``)."""
    if not has_app_context():
        yield
        return
    with current_app._get_current_object().app_context():  # type: ignore[attr-defined]
        yield
