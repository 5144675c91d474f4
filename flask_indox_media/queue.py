"""The job queue: RQ on Redis (:class:`JobQueue`), or, without Redis,
:class:`InlineQueue`, which runs each job at once in the process (for
development). Both take jobs by dotted path and apply one enqueue policy:
retries, timeout and TTLs from the settings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import requests
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry, Worker, get_current_job
from rq.command import send_stop_job_command
from rq.exceptions import DuplicateJobError, InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import (
    DeferredJobRegistry,
    FailedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from werkzeug.utils import import_string

from .config import Settings
from .exceptions import IndoxMediaError, QueueError
from .job_batch import JobBatchWriter, JobSpec

logger = logging.getLogger("flask_indox_media")

#: How long a finished job's result is kept.
RESULT_TTL = 3600
_DONE = (JobStatus.FINISHED, JobStatus.CANCELED, JobStatus.STOPPED)
#: The job meta key that says a failure is permanent (no re-run helps).
PERMANENT = "indox_permanent"
#: :meth:`JobQueue.job_states` of a job that failed for good, permanently.
FAILED_PERMANENTLY = "permanent"


def mark_permanent(reason: str) -> None:
    """From inside a job: its failure is permanent, so neither a re-poll nor
    the worker's maintenance re-runs it. A no-op outside an RQ job."""
    job = get_current_job()
    if job is not None:
        job.meta[PERMANENT] = reason
        job.save_meta()  # type: ignore[no-untyped-call]


def requeue_transient(queue: Queue, funcs: Collection[str], *, min_age: float) -> int:
    """Re-run the failed jobs of ``funcs`` in ``queue`` whose failure was not
    permanent, failed at least ``min_age`` seconds ago, and were first
    enqueued less than their ``failure_ttl`` ago (so a job is retried every
    maintenance round while its fault lasts, for a day by default, not
    forever). Returns how many.
    """
    registry = FailedJobRegistry(queue=queue)
    current = datetime.now(UTC)
    requeued = 0
    for job in Job.fetch_many(registry.get_job_ids(), connection=queue.connection):
        if job is None or job.func_name not in funcs or job.meta.get(PERMANENT):
            continue
        ended, created = job.ended_at, job.created_at
        if ended is not None and (current - _aware(ended)).total_seconds() < min_age:
            continue
        lifetime = job.failure_ttl or 0
        if (current - _aware(created)).total_seconds() > lifetime:
            continue
        try:
            registry.requeue(job)
        except InvalidJobOperation:
            continue  # someone else requeued or deleted it meanwhile
        requeued += 1
    return requeued


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@contextmanager
def redis_errors() -> Iterator[None]:
    """Redis failures as :class:`~flask_indox_media.exceptions.QueueError`."""
    try:
        yield
    except RedisError as exc:
        raise QueueError(f"Redis failed: {type(exc).__name__}") from exc


# Each job's status ("" for none), joined by line breaks, then the meta of
# each failed one, in order.
_STATES = """
local statuses, out = {}, {''}
for i, key in ipairs(KEYS) do
  local status = redis.call('HGET', key, 'status') or ''
  statuses[i] = status
  if status == 'failed' then
    out[#out + 1] = redis.call('HGET', key, 'meta') or ''
  end
end
out[1] = table.concat(statuses, '\\n')
return out
"""


def _first_of_each(specs: Sequence[JobSpec]) -> list[JobSpec]:
    seen: set[str] = set()
    out = []
    for spec in specs:
        if spec.job_id is not None:
            if spec.job_id in seen:
                continue
            seen.add(spec.job_id)
        out.append(spec)
    return out


class JobQueue:
    """Jobs in an RQ queue on Redis.

    :ivar rq: the ``rq.Queue`` (for workers and inspection).
    :ivar durable: a job enqueued here survives a failure of the request
        (it is retried later), unlike :class:`InlineQueue`'s.
    """

    durable = True

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.rq = Queue(settings.queue, connection=redis)
        retries = settings.job_retries
        self._timeout = settings.job_timeout
        # The timeout is apart: enqueue() calls it job_timeout, prepare_data() timeout.
        self._policy: dict[str, Any] = {
            "retry": Retry(max=len(retries), interval=list(retries))
            if retries
            else None,
            "failure_ttl": settings.failure_ttl,
            "result_ttl": RESULT_TTL,
        }
        self._states = redis.register_script(_STATES)
        self._batches = JobBatchWriter(
            self.rq, {"timeout": self._timeout, **self._policy}
        )

    def __repr__(self) -> str:
        return f"<JobQueue {self.name!r}>"

    @property
    def name(self) -> str:
        return str(self.rq.name)

    def enqueue(
        self,
        func: str,
        kwargs: Mapping[str, Any],
        *,
        description: str,
        job_id: str | None = None,
    ) -> None:
        """Enqueue ``func`` (a dotted path) with ``kwargs``. With a ``job_id``
        the job is unique: while one with that id is queued, running or kept,
        this is a no-op.

        :raises QueueError: Redis failed.
        """
        with redis_errors():
            try:
                self.rq.enqueue(
                    func,
                    kwargs=dict(kwargs),
                    job_id=job_id,
                    unique=job_id is not None,
                    description=description,
                    job_timeout=self._timeout,
                    **self._policy,
                )
            except DuplicateJobError:
                pass  # already queued, running, or done: one object either way

    def enqueue_many(self, specs: Sequence[JobSpec]) -> None:
        """Enqueue every job of ``specs`` in one Redis round trip (a script;
        one per function named), with :meth:`enqueue`'s policy, as RQ's
        ``Queue.enqueue_many`` would (:mod:`~flask_indox_media.job_batch`).

        Ids are not checked here: a job with the same id is replaced and
        queued again, so the caller decides which jobs are new (the mirror's
        claims do). Within ``specs`` the first job of an id wins.

        :raises QueueError: Redis failed.
        """
        jobs = _first_of_each(specs)
        if jobs:
            with redis_errors():
                self._batches.write(jobs)

    def _fetch(self, job_id: str) -> Job | None:
        with redis_errors():
            try:
                return Job.fetch(job_id, connection=self.redis)
            except NoSuchJobError:
                return None

    def status(self, job_id: str) -> tuple[str, Mapping[str, Any]] | None:
        """``("pending" | "failed", the job's kwargs)`` for a job still to run
        or failed for good; ``None`` when there is none (or it is done)."""
        job = self._fetch(job_id)
        if job is None:
            return None
        with redis_errors():
            status = job.get_status()
        if status in _DONE:
            return None
        return ("failed" if status == JobStatus.FAILED else "pending"), job.kwargs

    def job_states(self, job_ids: Sequence[str]) -> list[str | None]:
        """Each job's RQ status (``"queued"``, ``"started"``, ``"failed"``...),
        :data:`FAILED_PERMANENTLY` for a permanent failure, ``None`` when
        there is no such job. One round trip, whatever their number.

        Reads each job's status, and a failed job's meta, not the whole job:
        a poll of a 100-asset list asks this of every asset, and restoring
        100 jobs (RQ's ``Job.fetch_many``: every field, the meta unpickled)
        cost most of the response hook. One script, whose answer is one
        string and the failed jobs' metas (a pipeline of ``HMGET`` packed and
        parsed 100 commands in Python).

        :raises QueueError: Redis failed.
        """
        if not job_ids:
            return []
        with redis_errors():
            joined, *metas = self._states(keys=[Job.key_for(j) for j in job_ids])
        out: list[str | None] = []
        failed = iter(metas)
        for status in joined.decode().split("\n"):
            state = status or None
            if state == JobStatus.FAILED.value:
                meta = next(failed)
                if meta and self.rq.serializer.loads(meta).get(PERMANENT):
                    state = FAILED_PERMANENTLY
            out.append(state)
        return out

    def discard(self, job_ids: Sequence[str]) -> None:
        """Delete these jobs (and their registry entries), so ids can be
        enqueued afresh.

        :raises QueueError: Redis failed.
        """
        with redis_errors():
            jobs = [j for j in Job.fetch_many(job_ids, connection=self.redis) if j]
            if jobs:
                pipe = self.redis.pipeline()
                for job in jobs:
                    job.delete(pipeline=pipe)
                pipe.execute()

    def cancel(self, job_id: str) -> None:
        """Drop the job, wherever it is."""
        job = self._fetch(job_id)
        if job is not None:
            with redis_errors():
                job.delete()

    def cancel_jobs(self, match: Callable[[Mapping[str, Any]], bool]) -> int:
        """Cancel every queued, scheduled, deferred or failed job (and stop
        any running one) whose kwargs ``match``; returns how many."""
        queue = self.rq
        with redis_errors():
            waiting = set(queue.get_job_ids())
            for registry in (
                ScheduledJobRegistry,
                DeferredJobRegistry,
                FailedJobRegistry,
            ):
                waiting.update(registry(queue=queue).get_job_ids())
            running = set(StartedJobRegistry(queue=queue).get_job_ids())
            cancelled = 0
            for job in Job.fetch_many(sorted(waiting | running), connection=self.redis):
                if job is None or not match(job.kwargs or {}):
                    continue
                if job.id in running:
                    send_stop_job_command(self.redis, job.id)
                job.delete()
                cancelled += 1
        return cancelled

    def count(self) -> int:
        """Jobs waiting."""
        with redis_errors():
            return int(self.rq.count)

    def failed_count(self) -> int:
        """Jobs in the failed registry."""
        with redis_errors():
            return int(FailedJobRegistry(queue=self.rq).count)

    def workers(self) -> list[Any]:
        """The live workers listening on this queue."""
        with redis_errors():
            self.redis.ping()
            return [
                w
                for w in Worker.all(connection=self.redis)
                if self.name in w.queue_names()
            ]


class InlineQueue:
    """No Redis: every job runs at once, in the process, its failure logged.
    For development, not production (nothing is retried)."""

    name = None
    redis = None
    durable = False

    def __repr__(self) -> str:
        return "<InlineQueue>"

    def enqueue(
        self,
        func: str,
        kwargs: Mapping[str, Any],
        *,
        description: str,
        job_id: str | None = None,
    ) -> None:
        try:
            import_string(func)(**kwargs)
        except (IndoxMediaError, requests.RequestException) as exc:
            logger.warning(
                "indox-media: in-process job %r failed: %s",
                description,
                type(exc).__name__,
            )

    def enqueue_many(self, specs: Sequence[JobSpec]) -> None:
        """Run each job now, in order."""
        for spec in _first_of_each(specs):
            self.enqueue(
                spec.func,
                spec.kwargs,
                description=spec.description,
                job_id=spec.job_id,
            )

    def status(self, job_id: str) -> tuple[str, Mapping[str, Any]] | None:
        return None

    def job_states(self, job_ids: Sequence[str]) -> list[str | None]:
        return [None] * len(job_ids)

    def discard(self, job_ids: Sequence[str]) -> None:
        pass

    def cancel(self, job_id: str) -> None:
        pass

    def cancel_jobs(self, match: Callable[[Mapping[str, Any]], bool]) -> int:
        return 0

    def count(self) -> int:
        return 0

    def failed_count(self) -> int:
        return 0


#: Either kind of queue.
AnyQueue = JobQueue | InlineQueue
