"""Jobs written from a template are the jobs RQ's own ``enqueue_many``
writes: the same hash, queued the same way, run by a worker."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from redis import Redis
from rq import Queue, Retry, SimpleWorker
from rq.job import Job, JobStatus

from flask_indox_media.job_batch import JobBatchWriter, JobSpec, compress
from flask_indox_media.queue import FAILED_PERMANENTLY, PERMANENT

FUNC = "tests.test_job_batch.echo"
#: Differ between any two writes of the same job: when, and the stored data's
#: compression (RQ's default level against our stored form); compared apart.
VARYING = {b"created_at", b"enqueued_at", b"data"}


def echo(**kwargs: Any) -> dict[str, Any]:
    return kwargs


@pytest.fixture
def redis(redis_db: str) -> Iterator[Redis]:
    conn = Redis.from_url(redis_db)
    yield conn
    conn.close()


POLICY: dict[str, Any] = {
    "timeout": 180,
    "retry": Retry(max=3, interval=[5, 30, 120]),
    "failure_ttl": 86400,
    "result_ttl": 3600,
}


def _spec(i: int) -> JobSpec:
    return JobSpec(
        FUNC,
        {"key": f"clips/k{i}.wav", "source_url": f"https://x.test/{i}.wav", "n": i},
        description=f"mirror k{i}",
        job_id=f"job-{i}",
    )


def test_jobs_are_written_as_rq_writes_them(redis: Redis) -> None:
    ours, theirs = Queue("ours", connection=redis), Queue("theirs", connection=redis)
    specs = [_spec(i) for i in range(3)]
    JobBatchWriter(ours, POLICY).write(specs)
    # RQ's job ids are global: theirs get a prefix, then the hashes compare.
    theirs.enqueue_many(
        [
            Queue.prepare_data(
                s.func,
                kwargs=dict(s.kwargs),
                description=s.description,
                job_id="rq-" + str(s.job_id),
                **POLICY,
            )
            for s in specs
        ]
    )
    assert ours.get_job_ids() == [s.job_id for s in specs]
    assert theirs.get_job_ids() == ["rq-" + str(s.job_id) for s in specs]
    assert {b"rq:queue:ours", b"rq:queue:theirs"} <= redis.smembers("rq:queues")
    for spec in specs:
        mine = redis.hgetall(Job.key_for(str(spec.job_id)))
        rqs = redis.hgetall(Job.key_for("rq-" + str(spec.job_id)))
        mine[b"origin"] = b"theirs"  # the only field that names the queue
        assert {k: v for k, v in mine.items() if k not in VARYING} == {
            k: v for k, v in rqs.items() if k not in VARYING
        }
        assert set(mine) == set(rqs)
        assert zlib.decompress(mine[b"data"]) == zlib.decompress(rqs[b"data"])
        assert redis.ttl(Job.key_for(str(spec.job_id))) == -1  # as RQ: no expiry
        job = Job.fetch(str(spec.job_id), connection=redis)
        assert job.get_status() == JobStatus.QUEUED
        assert (job.func_name, job.kwargs, job.retries_left) == (FUNC, spec.kwargs, 3)
        assert job.description == spec.description
        assert job.enqueued_at is not None and job.created_at is not None


def test_a_worker_runs_them(redis: Redis) -> None:
    queue = Queue("run", connection=redis)
    specs = [_spec(i) for i in range(4)]
    JobBatchWriter(queue, POLICY).write(specs)
    SimpleWorker([queue], connection=redis).work(burst=True)
    for spec in specs:
        job = Job.fetch(str(spec.job_id), connection=redis)
        assert job.get_status() == JobStatus.FINISHED
        assert job.return_value() == spec.kwargs


def test_an_existing_job_is_replaced_whole_and_queued_again(redis: Redis) -> None:
    queue = Queue("again", connection=redis)
    writer = JobBatchWriter(queue, POLICY)
    writer.write([_spec(1)])
    redis.hset(Job.key_for("job-1"), mapping={"status": "failed", "exc_info": b"x"})
    writer.write([_spec(1)])
    fields = redis.hgetall(Job.key_for("job-1"))
    assert fields[b"status"] == b"queued" and b"exc_info" not in fields
    assert queue.get_job_ids() == ["job-1", "job-1"]


def test_jobs_without_an_id_get_a_random_one(redis: Redis) -> None:
    queue = Queue("anon", connection=redis)
    JobBatchWriter(queue, POLICY).write(
        [JobSpec(FUNC, {"n": 1}, "one"), JobSpec(FUNC, {"n": 2}, "two")]
    )
    ids = queue.get_job_ids()
    assert len(set(ids)) == 2
    assert [Job.fetch(i, connection=redis).kwargs for i in ids] == [{"n": 1}, {"n": 2}]


@given(st.binary(max_size=200_000))
def test_compress_is_a_zlib_stream(data: bytes) -> None:
    assert zlib.decompress(compress(data)) == data


def test_job_states_in_one_script(
    make_app: Callable[..., Flask], redis_db: str, redis: Redis
) -> None:
    queue = (
        make_app({"INDOX_MEDIA_REDIS_URL": redis_db}).extensions["indox_media"].queue
    )
    queue.enqueue_many([_spec(i) for i in range(4)])
    redis.hset(Job.key_for("job-1"), "status", "failed")  # no meta: transient
    for i, meta in ((2, {PERMANENT: "not audio"}), (3, {"other": 1})):
        redis.hset(
            Job.key_for(f"job-{i}"),
            mapping={"status": "failed", "meta": queue.rq.serializer.dumps(meta)},
        )
    assert queue.job_states(["job-0", "job-1", "nope", "job-2", "job-3"]) == [
        "queued",
        "failed",
        None,
        FAILED_PERMANENTLY,
        "failed",
    ]
    assert queue.job_states([]) == []


def test_a_job_id_with_a_line_break_is_refused(redis: Redis) -> None:
    writer = JobBatchWriter(Queue("nl", connection=redis), POLICY)
    with pytest.raises(ValueError, match="line break"):
        writer.write([JobSpec(FUNC, {}, "x", job_id="a\nb")])
    writer.write([JobSpec(FUNC, {"n": 1}, "two\nlines", job_id="ok")])
    assert Job.fetch("ok", connection=redis).description == "two lines"
