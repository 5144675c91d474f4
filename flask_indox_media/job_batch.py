"""Many RQ jobs written in one Redis command: each job's hash from a
template, then its id pushed on the queue, as ``Queue.enqueue_many`` would.

The template is RQ's own: :meth:`rq.job.Job.to_dict` of a prototype job
made by the queue with the same function and policy (retries, timeout,
TTLs), so every field RQ writes is there, in RQ's format. Per job only its
id, its data (the pickled call) and its description change; the creation
and enqueue times are the batch's. A test holds the hashes equal to those
``Queue.enqueue_many`` writes.

Why not ``Queue.enqueue_many``: for 100 jobs it cost 20-30 ms of CPU (a
``Job`` per job, ``to_dict``, five ``strftime``, zlib's 256 KiB state set up
per compression, about 50 arguments per job packed by redis-py); this costs
about 2 ms (docs/performance.rst).
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rq import Queue
from rq.job import Job
from rq.utils import utcformat

#: Per job, after the template's fields: these, with the job's own values.
_PER_JOB = ("data", "description")
#: Set once per batch.
_PER_BATCH = ("created_at", "enqueued_at")

# KEYS: the queue's list, RQ's set of queues, then each job's hash.
# ARGV: the queue's key, the number of template values, the template's
# field/value pairs, then per job "id\ndescription\ndata" (one argument:
# redis-py packs each argument in Python, 5 µs apiece on these machines).
_WRITE = """
local queue, queues = KEYS[1], KEYS[2]
local n = tonumber(ARGV[2])
local fields = {}
for i = 1, n do fields[i] = ARGV[2 + i] end
redis.call('SADD', queues, ARGV[1])
for k = 3, #KEYS do
  local job = ARGV[n + k]
  local a = string.find(job, '\\n', 1, true)
  local b = string.find(job, '\\n', a + 1, true)
  local id = string.sub(job, 1, a - 1)
  redis.call('DEL', KEYS[k])
  redis.call('HSET', KEYS[k], 'description', string.sub(job, a + 1, b - 1),
             'data', string.sub(job, b + 1), unpack(fields))
  redis.call('RPUSH', queue, id)
end
return #KEYS - 2
"""


@dataclass(frozen=True)
class JobSpec:
    """One job of a batch: ``func`` by dotted path, its keyword arguments
    (plain data), its description and its id (``None``: a random one, as RQ
    gives)."""

    func: str
    kwargs: Mapping[str, Any]
    description: str
    job_id: str | None = None


def compress(data: bytes) -> bytes:
    """``data`` as a zlib stream, as RQ stores a job's data, in deflate's
    stored form: a job's pickled call is a few hundred bytes, and setting up
    zlib's default state to compress it cost 130 µs a job, 35-40 µs with the
    smallest window, against about 5 µs stored (and 20 % more bytes)."""
    packer = zlib.compressobj(0, zlib.DEFLATED, 9, 1)
    return packer.compress(data) + packer.flush()


class JobBatchWriter:
    """Writes batches of jobs to ``queue`` with ``policy`` (the keyword
    arguments of ``Queue.create_job``: ``timeout``, ``retry``, TTLs)."""

    def __init__(self, queue: Queue, policy: Mapping[str, Any]) -> None:
        self._queue = queue
        self._policy = dict(policy)
        self._templates: dict[str, list[Any]] = {}
        self._write = queue.connection.register_script(_WRITE)

    def _template(self, func: str) -> list[Any]:
        """The flat field/value pairs every job of ``func`` shares."""
        found = self._templates.get(func)
        if found is None:
            prototype = self._queue.create_job(func, job_id="prototype", **self._policy)
            fields = prototype.to_dict()
            for name in _PER_JOB + _PER_BATCH:
                fields.pop(name, None)
            found = [item for pair in fields.items() for item in pair]
            self._templates[func] = found
        return found

    def write(self, jobs: Sequence[JobSpec]) -> None:
        """Create and enqueue ``jobs``: one command per function. A job whose id exists
        is replaced (its hash rewritten) and queued again: the caller decides
        which jobs are new.

        :raises redis.RedisError: Redis failed (nothing or all was written:
            a script runs whole).
        """
        by_func: dict[str, list[JobSpec]] = {}
        for job in jobs:
            by_func.setdefault(job.func, []).append(job)
        stamp = utcformat(datetime.now(UTC))
        dumps = self._queue.serializer.dumps
        for func, group in by_func.items():
            template = self._template(func)
            keys = [self._queue.key, Queue.redis_queues_keys]
            args: list[Any] = [self._queue.key, len(template) + 4, *template]
            args += ["created_at", stamp, "enqueued_at", stamp]
            for job in group:
                job_id = job.job_id or str(uuid.uuid4())
                if "\n" in job_id:
                    raise ValueError(f"a job id has no line break: {job_id!r}")
                keys.append(Job.key_for(job_id))
                data = compress(dumps((func, None, (), dict(job.kwargs))))
                # A description is for people: a line break becomes a space.
                text = job.description.replace("\n", " ")
                args.append(f"{job_id}\n{text}\n".encode() + data)
            self._write(keys=keys, args=args)
