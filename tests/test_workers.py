"""``flask indox-media worker`` and its options, the stock ``rq worker``
without an app, and the metrics of forked work horses; against the suite's own
Redis, with workers in this process (``test_cli_runner``) or of their own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import requests
from flask import Flask
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis
from redis.connection import Connection
from rq import Queue
from rq.command import send_stop_job_command
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from rq.suspension import resume, suspend

from flask_indox_media.ops.worker import queue_names
from flask_indox_media.testing import free_port
from flask_indox_media.worker import IndoxWorker
from tests.conftest import create_clip, gateway_config

ROOT = Path(__file__).resolve().parents[1]
HOST_JOB = "tests.worker_app.host_job"
DEFAULT = "flask_indox_media.worker.IndoxWorker"
FORKING = "flask_indox_media.worker.IndoxForkingWorker"
OK = {"asset_class": "tts", "result": "ok"}


@pytest.fixture
def queued(make_gateway: Callable[..., Flask], redis_db: str) -> Flask:
    return make_gateway(
        {"INDOX_MEDIA_REDIS_URL": redis_db, "INDOX_MEDIA_JOB_RETRIES": [1, 2]}
    )


def invoke(app: Flask, *args: str) -> Any:
    result = app.test_cli_runner().invoke(args=["indox-media", "worker", *args])
    return result


def redis_of(app: Flask) -> Redis:
    conn: Redis = app.extensions["indox_media"].redis
    return conn


def ran(app: Flask, tag: str) -> dict[str, str]:
    found = redis_of(app).hgetall(f"ran:{tag}")
    return {k.decode(): v.decode() for k, v in found.items()}


def host_queue(app: Flask, name: str) -> Queue:
    return Queue(name, connection=redis_of(app))


def mirrored(app: Flask, prefix: str = "tts/alice/") -> int:
    backend = app.extensions["indox_media"].catalog.primary
    return len(list(backend.list_objects(prefix)))


def environment(app: Flask, upstream: str, **extra: str) -> dict[str, str]:
    """The environment of a worker process for ``app``'s Redis and storage,
    configured as tests/worker_app.py reads it."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("INDOX_MEDIA_", "PROMETHEUS_", "FLASK_"))
        and k != "STORAGE_BACKEND"
    }
    settings = app.extensions["indox_media"].settings
    local = app.extensions["indox_media"].catalog.backends["local"]
    env.update(
        INDOX_MEDIA_REDIS_URL=str(settings.redis_url),
        INDOX_MEDIA_LOCAL_ROOT=str(local.root),
        INDOX_MEDIA_SOURCE_HOSTS=gateway_config(upstream)["INDOX_MEDIA_SOURCE_HOSTS"],
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def flask_worker(*args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "flask",
        "--app",
        "tests.worker_app:create_app",
        "indox-media",
        "worker",
        *args,
    ]


def test_queue_names() -> None:
    assert queue_names("indox-media", ()) == ["indox-media"]
    assert queue_names("indox-media", ["high,low", "low", " mail "]) == [
        "indox-media",
        "high",
        "low",
        "mail",
    ]
    # Listing the extension's queue places it.
    assert queue_names("indox-media", ["high", "indox-media"]) == [
        "high",
        "indox-media",
    ]


def test_one_worker_runs_the_mirrors_and_the_hosts_queues(queued: Flask) -> None:
    create_clip(queued.test_client())
    host_queue(queued, "high").enqueue(HOST_JOB, "high")
    host_queue(queued, "low").enqueue(HOST_JOB, "low")
    host_queue(queued, "other").enqueue(HOST_JOB, "other")
    result = invoke(queued, "--burst", "--queues", "high,low")
    assert result.exit_code == 0, result.output
    assert "on indox-media, high, low" in result.output
    assert mirrored(queued) == 1
    assert ran(queued, "high") and ran(queued, "low")
    assert ran(queued, "other") == {}  # not listed, not worked
    assert host_queue(queued, "other").count == 1


def test_repeated_queues_option(queued: Flask) -> None:
    host_queue(queued, "a").enqueue(HOST_JOB, "a")
    host_queue(queued, "b").enqueue(HOST_JOB, "b")
    result = invoke(queued, "--burst", "--queues", "a", "--queues", "b")
    assert result.exit_code == 0, result.output
    assert ran(queued, "a") and ran(queued, "b")


def test_max_jobs_stops_after_n(queued: Flask) -> None:
    for n in range(3):
        queued.extensions["indox_media"].queue.rq.enqueue(HOST_JOB, f"job-{n}")
    # --burst too, so that a broken --max-jobs fails the test instead of hanging it.
    result = invoke(queued, "--burst", "--max-jobs", "2")
    assert result.exit_code == 0, result.output
    assert [bool(ran(queued, f"job-{n}")) for n in range(3)] == [True, True, False]
    assert queued.extensions["indox_media"].queue.count() == 1


@pytest.mark.parametrize(
    ("args", "in_process"),
    [
        ((), True),
        (("--worker-class", FORKING), False),
        (("--worker-class", "rq.SimpleWorker"), True),
    ],
)
def test_worker_class(queued: Flask, args: tuple[str, ...], in_process: bool) -> None:
    queued.extensions["indox_media"].queue.rq.enqueue(HOST_JOB, "where")
    result = invoke(queued, "--burst", *args)
    assert result.exit_code == 0, result.output
    # The default IndoxWorker runs jobs in its own process, as SimpleWorker
    # does; IndoxForkingWorker forks a work horse per job.
    assert (ran(queued, "where")["pid"] == str(os.getpid())) is in_process


def test_a_stop_request_ends_the_running_job_and_the_worker_goes_on(
    queued: Flask,
) -> None:
    """RQ's stop-job command (erasure sends it) reaches a job of the
    non-forking worker: the job ends as stopped, the next one runs."""
    rq_queue = queued.extensions["indox_media"].queue.rq
    job = rq_queue.enqueue("tests.worker_app.host_wait", "stopped")
    rq_queue.enqueue(HOST_JOB, "after")
    redis = redis_of(queued)

    def stop_once_started() -> None:
        deadline = time.monotonic() + 60
        while not ran(queued, "stopped") and time.monotonic() < deadline:
            time.sleep(0.05)
        send_stop_job_command(redis, job.id)

    stopper = threading.Thread(target=stop_once_started)
    stopper.start()
    result = invoke(queued, "--burst")
    stopper.join()
    assert result.exit_code == 0, result.output
    assert job.get_status() == JobStatus.STOPPED
    assert "done" not in ran(queued, "stopped")  # interrupted, not finished
    assert ran(queued, "after")


def test_the_non_forking_worker_renews_a_running_job_s_heartbeat(
    queued: Flask,
) -> None:
    """As a forking worker's parent does while it waits: an abandoned job is
    told from a long one by its heartbeat."""
    state = queued.extensions["indox_media"]
    state.queue.rq.enqueue("tests.worker_app.host_heartbeat", "beats")
    with queued.app_context():
        worker = IndoxWorker(
            [state.queue.rq], connection=state.redis, job_monitoring_interval=1
        )
        worker.work(burst=True)
    assert ran(queued, "beats")["renewed"] == "1"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("no_such_module.Worker", "cannot import worker class 'no_such_module.Worker'"),
        ("flask.Flask", "'flask.Flask' is not an RQ worker class"),
    ],
)
def test_a_wrong_worker_class_is_refused(
    queued: Flask, path: str, message: str
) -> None:
    result = invoke(queued, "--burst", "--worker-class", path)
    assert result.exit_code != 0 and message in result.output


@pytest.mark.parametrize(
    ("flag", "runs"), [((), True), (("--without-scheduler",), False)]
)
def test_the_scheduler_runs_unless_turned_off(
    queued: Flask, flag: tuple[str, ...], runs: bool
) -> None:
    rq_queue = queued.extensions["indox_media"].queue.rq
    due = datetime.now(UTC) - timedelta(seconds=1)  # as a retry with back-off is
    job = rq_queue.enqueue_at(due, HOST_JOB, "scheduled")
    result = invoke(queued, "--burst", *flag)
    assert result.exit_code == 0, result.output
    assert bool(ran(queued, "scheduled")) is runs
    assert (job.id in ScheduledJobRegistry(queue=rq_queue).get_job_ids()) is not runs


def test_name_and_logging_level_in_a_worker_process(
    queued: Flask, upstream: str
) -> None:
    host_queue(queued, "host").enqueue(HOST_JOB, "named")
    name = f"mirror-worker-{os.getpid()}"
    done = subprocess.run(
        flask_worker(
            "--burst", "--queues", "host", "--name", name, "--logging-level", "debug"
        ),
        env=environment(queued, upstream),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert ran(queued, "named")["worker"] == name
    assert f"indox-media worker {name} on indox-media, host" in done.stdout
    # rq's debug lines (on stdout, hidden at the default INFO):
    assert f"Worker {name}: registering birth" in done.stdout


def test_stock_rq_worker_without_flask_app_fails_the_job_once(
    queued: Flask, upstream: str, tmp_path: Path
) -> None:
    """Without FLASK_APP the job fails at once, naming it, and is not retried
    (its retries are meant for a flaky upstream)."""
    create_clip(queued.test_client())
    rq_queue = queued.extensions["indox_media"].queue.rq
    (job_id,) = rq_queue.get_job_ids()
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "rq"),
            "worker",
            "--burst",
            "--with-scheduler",
            "-u",
            str(queued.extensions["indox_media"].settings.redis_url),
            rq_queue.name,
        ],
        env=environment(queued, upstream),
        cwd=tmp_path,  # no wsgi.py or app.py for Flask to find
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    job = Job.fetch(job_id, connection=redis_of(queued))
    assert job.get_status() == "failed"
    assert job_id in FailedJobRegistry(queue=rq_queue).get_job_ids()
    assert ScheduledJobRegistry(queue=rq_queue).get_job_ids() == []
    assert rq_queue.count == 0
    assert job.retries_left == 0  # none spent on a retry: none will be
    message = job.latest_result().exc_string
    assert "NoAppError" in message and "set FLASK_APP" in message
    assert "flask --app yourapp indox-media worker" in message


def three_clips(app: Flask) -> None:
    client = app.test_client()
    for _ in range(3):
        create_clip(client)
    assert app.extensions["indox_media"].queue.count() == 3


def test_forking_worker_metrics_are_aggregated(
    queued: Flask,
    upstream: str,
    tmp_path: Path,
    make_gateway: Callable[..., Flask],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three mirrors in three work horses: each horse's counts survive it in
    PROMETHEUS_MULTIPROC_DIR, and add up there, and on the gateway's route."""
    three_clips(queued)
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    done = subprocess.run(
        flask_worker("--burst", "--worker-class", FORKING),
        env=environment(queued, upstream, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert mirrored(queued) == 3
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(metrics_dir))
    assert registry.get_sample_value("indox_media_mirrors_total", OK) == 3
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    gateway = make_gateway({"INDOX_MEDIA_METRICS_PATH": "/metrics"})
    response = gateway.test_client().get("/metrics")
    assert response.status_code == 200
    assert scraped(response.get_data(as_text=True)) == 3


def scraped(text: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "indox_media_mirrors_total" and sample.labels == OK:
                return float(sample.value)
    return None


def test_metrics_port_serves_the_counts_of_the_work_horses(
    queued: Flask, upstream: str, tmp_path: Path
) -> None:
    """No PROMETHEUS_MULTIPROC_DIR: the worker makes a directory of its own,
    serves what its horses count, and removes it when it stops."""
    three_clips(queued)
    port = free_port()
    out = tmp_path / "worker.out"
    with out.open("w") as fh:
        proc = subprocess.Popen(
            flask_worker("--metrics-port", str(port), "--worker-class", FORKING),
            env=environment(queued, upstream),
            cwd=ROOT,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    try:
        value = None
        deadline = time.monotonic() + 30
        while value != 3 and time.monotonic() < deadline:
            try:
                value = scraped(
                    requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
                )
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        assert value == 3, out.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)  # rq's warm shutdown
        proc.wait(30)
    log = out.read_text()
    assert proc.returncode == 0, log
    metrics_dir = log.split("PROMETHEUS_MULTIPROC_DIR=")[1].split(")")[0]
    assert "indox-media-metrics-" in metrics_dir and not Path(metrics_dir).exists()


def test_the_metrics_route_is_off_by_default(gateway: Flask) -> None:
    assert gateway.test_client().get("/metrics").status_code == 404


def test_the_metrics_route_in_one_process(make_gateway: Callable[..., Flask]) -> None:
    app = make_gateway({"INDOX_MEDIA_METRICS_PATH": "/ops/metrics"})
    create_clip(app.test_client())  # mirrored in-process (no Redis)
    response = app.test_client().get("/ops/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    assert (scraped(response.get_data(as_text=True)) or 0) >= 1


def test_rq_s_own_worker_heartbeats_go_once_a_second_in_one_round_trip(
    queued: Flask,
) -> None:
    """RQ beats three times per job, three commands each; a beat less than
    a second after the last one is dropped, and one that goes is pipelined.
    A beat with a timeout (RQ's job set-up) always goes."""
    state = queued.extensions["indox_media"]
    worker = IndoxWorker([state.queue.rq], connection=state.redis)
    worker.register_birth()
    sent: list[Any] = []
    execute = worker.connection.execute_command

    def counting(*args: Any, **kwargs: Any) -> Any:
        sent.append(args[0])
        return execute(*args, **kwargs)

    worker.connection.execute_command = counting  # type: ignore[method-assign]
    worker.last_heartbeat = datetime.now(UTC) - timedelta(seconds=5)
    worker.heartbeat()
    beat = worker.last_heartbeat
    assert sent == []  # pipelined: not one command at a time
    assert 0 < state.redis.ttl(worker.key) <= worker.worker_ttl + 60
    worker.heartbeat()
    worker.heartbeat()
    assert worker.last_heartbeat == beat  # dropped: within a second
    worker.heartbeat(timeout=90)
    assert worker.last_heartbeat != beat and sent.count("HSET") == 1
    assert 0 < state.redis.ttl(worker.key) <= 90
    worker.register_death()


_HANDSHAKE = ("HELLO", "CLIENT", "AUTH", "SELECT")


def _round_trips_of_jobs(app: Flask, jobs: int) -> int:
    """Redis round trips (commands or pipelines sent) of an in-process
    :class:`IndoxWorker` that works ``jobs`` host jobs in burst mode."""
    state = app.extensions["indox_media"]
    for i in range(jobs):
        state.queue.rq.enqueue(HOST_JOB, f"trip-{i}")
    worker = IndoxWorker([state.queue.rq], connection=state.redis)
    worker.force_scheduler = False
    sent = 0
    send = Connection.send_packed_command

    def counting(self: Connection, command: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal sent
        first = bytes(command[0] if isinstance(command, list) else command)
        # Not a new connection's handshake: how many there are depends on
        # the pool, not on the jobs.
        sent += not any(f"\r\n{c}\r\n".encode() in first[:30] for c in _HANDSHAKE)
        return send(self, command, *args, **kwargs)

    with (
        app.app_context(),
        mock.patch.object(Connection, "send_packed_command", counting),
        # RQ's own worker heartbeats (once a second) out of the count.
        mock.patch("flask_indox_media.bookkeeping.HEARTBEAT_EVERY", 3600),
    ):
        worker.work(burst=True, with_scheduler=False)
    return sent


def test_a_job_costs_the_worker_few_round_trips(queued: Flask) -> None:
    """RQ's bookkeeping of a job, in round trips to Redis, the job's own HSET
    included: 12 with RQ 3's worker, 8 with :class:`IndoxWorker` (see
    :mod:`flask_indox_media.bookkeeping`)."""
    few, many = _round_trips_of_jobs(queued, 4), _round_trips_of_jobs(queued, 12)
    # The difference cancels the start-up and shut-down.
    assert (many - few) / 8 <= 8


def test_a_suspended_worker_takes_no_job(queued: Flask) -> None:
    """``rq suspend`` still holds, though the flag is read once a second."""
    state = queued.extensions["indox_media"]
    state.queue.rq.enqueue(HOST_JOB, "suspended")
    suspend(state.redis)
    try:
        with queued.app_context():
            worker = IndoxWorker([state.queue.rq], connection=state.redis)
            worker.work(burst=True, with_scheduler=False)
    finally:
        resume(state.redis)
    assert not ran(queued, "suspended") and state.queue.rq.count == 1


def test_one_heartbeat_thread_serves_every_job_and_ends_with_the_worker(
    queued: Flask,
) -> None:
    state = queued.extensions["indox_media"]
    for i in range(3):
        state.queue.rq.enqueue(HOST_JOB, f"beat-{i}")
    started: list[str] = []
    start = threading.Thread.start

    def counting(self: threading.Thread) -> None:
        started.append(self.name)
        start(self)

    worker = IndoxWorker([state.queue.rq], connection=state.redis)
    with queued.app_context(), mock.patch.object(threading.Thread, "start", counting):
        worker.work(burst=True, with_scheduler=False)
    assert all(ran(queued, f"beat-{i}") for i in range(3))
    assert started.count("job-heartbeat") == 1
    deadline = time.monotonic() + 10
    while any(t.name == "job-heartbeat" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the heartbeat thread outlived its worker"
        time.sleep(0.01)


@pytest.mark.parametrize("path", [DEFAULT, FORKING])
def test_a_running_job_is_recorded_as_rq_records_it(queued: Flask, path: str) -> None:
    """What crash recovery and ``rq info`` read, with the job's start sent in
    one pipeline instead of RQ's two."""
    queued.extensions["indox_media"].queue.rq.enqueue(
        "tests.worker_app.host_observe", "observed"
    )
    result = invoke(queued, "--burst", "--worker-class", path)
    assert result.exit_code == 0, result.output
    assert ran(queued, "observed") == {
        "status": "started",
        "started": "1",
        "worker": "busy",
        "intermediate": "0",
    }
