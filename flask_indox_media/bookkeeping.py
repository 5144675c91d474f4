"""RQ's bookkeeping of a job in fewer Redis round trips, for both worker
classes (:mod:`flask_indox_media.worker`).

RQ 3's worker makes 11 round trips per job beyond the job's own (a small
mirror spends ~12 ms of worker CPU, half of it in RQ), several of them
repeats: the worker's heartbeat (three commands, three times a job),
``idle`` set twice between jobs, the job's ``last_heartbeat`` written alone
just before the whole job is saved, the suspension flag read before every
job, and the job's start recorded in two pipelines. :class:`LeanBookkeeping`
keeps what each write is for (the started registry and the job's status for
crash recovery, the finished and failed registries, the worker's key and
state for ``rq info``) and drops the repeats: 7 round trips a job.
"""

from __future__ import annotations

import time
from typing import Any

from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.utils import now
from rq.worker import BaseWorker, WorkerStatus

#: Seconds between the worker heartbeats RQ asks for on its own (see
#: :meth:`LeanBookkeeping.heartbeat`).
HEARTBEAT_EVERY = 1.0
#: Seconds between two reads of RQ's suspension flag (``rq suspend``).
SUSPENSION_EVERY = 1.0


class LeanBookkeeping(BaseWorker):
    """RQ's per-job writes to Redis, without the repeats (see the module's
    notes)."""

    _suspension_read = -SUSPENSION_EVERY

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's worker heartbeat, at most once a second when RQ calls it on
        its own (alone or in the suspension check's pipeline), and then in
        one round trip.

        RQ beats three times per job (before and after dequeueing, after the
        job), three commands each, sent one by one. The worker's key lives
        ``worker_ttl`` + 60 s, so a beat less than a second after the last
        one adds nothing. A beat with a timeout (RQ's job set-up and job
        heartbeats) always goes."""
        if timeout is None:
            last = self.last_heartbeat
            if last is not None and (now() - last).total_seconds() < HEARTBEAT_EVERY:
                return
        if timeout is not None or pipeline is not None:
            super().heartbeat(timeout, pipeline=pipeline)
            return
        with self.connection.pipeline(transaction=False) as beat:
            super().heartbeat(pipeline=beat)
            beat.execute()

    def check_for_suspension(self, burst: bool) -> None:
        """RQ's (it waits while ``rq suspend`` holds), reading the flag at
        most once a second: RQ reads it before every job."""
        if time.monotonic() - self._suspension_read < SUSPENSION_EVERY:
            return
        super().check_for_suspension(burst)
        self._suspension_read = time.monotonic()

    def set_state(self, state: str, pipeline: Any = None) -> None:
        """RQ's, without the write when the state is already ``state``: RQ
        sets ``idle`` twice between two jobs (after one, before the next
        dequeue). Only this worker writes its state."""
        if pipeline is None and state == self.get_state():
            return
        super().set_state(state, pipeline=pipeline)

    def prepare_execution(self, job: Job) -> Execution:
        """RQ's two pipelines before a job in one: the execution in the
        started registry and the worker ``busy`` (RQ's prepare_execution),
        then the heartbeats, the job ``started`` and out of the intermediate
        queue (RQ's prepare_job_execution, which then has nothing to send)."""
        with self.connection.pipeline() as pipe:
            ttl = self.get_heartbeat_ttl(job)
            execution = Execution.create(job, ttl, pipeline=pipe, worker_name=self.name)
            self.executions[execution.id] = execution
            self.set_state(WorkerStatus.BUSY, pipeline=pipe)
            self.heartbeat(ttl, pipeline=pipe)
            job.prepare_for_execution(self.name, pipeline=pipe)
            pipe.persist(job.key)
            if len(self.queues) == 1:  # as RQ's perform_job decides
                origin = Queue(job.origin, connection=self.connection)
                pipe.lrem(origin.intermediate_queue_key, 1, job.id)
            pipe.execute()
        return execution

    def prepare_job_execution(
        self, job: Job, remove_from_intermediate_queue: bool = False
    ) -> None:
        """Nothing left to send (:meth:`prepare_execution` did); the process
        title, as RQ's."""
        self.procline(
            f"Processing {job.func_name} from {job.origin} since {time.time()}"
        )  # type: ignore[no-untyped-call]

    def handle_execution_ended(
        self, job: Job, queue: Queue, heartbeat_ttl: int
    ) -> None:
        """RQ's, without its round trip on success: RQ writes the job's
        ``last_heartbeat`` alone, then saves the whole job (that field with
        it) in the pipeline that records the success."""
        if job.get_status(refresh=False) == JobStatus.FAILED:
            super().handle_execution_ended(job, queue, heartbeat_ttl)
            return
        job.ended_at = job.last_heartbeat = now()
