"""RQ workers: the cost of a job in a forking worker beyond the download it
makes, and scale-out over 1, 2 and 4 worker processes on one Redis."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3

from example_app import create_app
from flask_indox_media.mirror.download import MIRROR_JOB
from flask_indox_media.queue import JobSpec
from flask_indox_media.testing import redis_server

from .common import (
    CREDS,
    ROOT,
    Row,
    gunicorn,
    interleave,
    judged,
    moto_server,
    pick,
    probe,
    python_env,
    runs_note,
    table,
)
from .gateway import as_env, config

# Counts the PutObject requests of every process started with BENCH_PUT_LOG
# set (the workers and their forked work horses), one line per attempt.
_SITECUSTOMIZE = """
import os
if os.environ.get("BENCH_PUT_LOG"):
    import botocore.session

    _create = botocore.session.Session.create_client

    def _record(**_):
        with open(os.environ["BENCH_PUT_LOG"], "a") as fh:
            fh.write("PutObject\\n")

    def create_client(self, *args, **kwargs):
        client = _create(self, *args, **kwargs)
        client.meta.events.register("before-send.s3.PutObject", _record)
        return client

    botocore.session.Session.create_client = create_client
"""


@contextmanager
def _stack(file_latency: float, files: int) -> Iterator[tuple[str, str, str]]:
    """moto, Redis and the fake upstream (gunicorn, 1 process, 32 threads)
    serving ``files`` tiny WAVs after ``file_latency`` seconds each."""
    env = {"BENCH_FILES": str(files + 1), "BENCH_FILE_LATENCY": str(file_latency)}
    with (
        moto_server() as endpoint,
        redis_server() as redis_url,
        gunicorn("benchmarks.apps:upstream()", threads=32, env=env) as (up, _),
    ):
        yield endpoint, redis_url, up


def _enqueue(settings: dict[str, object], up: str, n: int, prefix: str) -> None:
    state = create_app(settings).extensions["indox_media"]
    state.queue.enqueue_many(
        [
            JobSpec(
                MIRROR_JOB,
                {
                    "backend": "r2",
                    "key": f"tts/u/2026/01/01/000000-{prefix}{i}.wav",
                    "source_url": f"{up}/files/a{i}.wav",
                },
                description=f"bench {prefix}{i}",
                job_id=f"bench-{prefix}{i}",
            )
            for i in range(n)
        ]
    )


def _burst(settings: dict[str, object], workers: int, **extra: str) -> float:
    """Wall time of ``workers`` ``flask indox-media worker --burst`` processes
    started together, until the last one exits."""
    env = python_env(FLASK_APP="benchmarks.apps:gateway()", **as_env(settings), **extra)
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "flask", "indox-media", "worker", "--burst"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    for proc in procs:
        proc.wait(3600)
    return time.perf_counter() - start


def _new_bucket(endpoint: str, name: str) -> str:
    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", **CREDS
    ).create_bucket(Bucket=name)
    return name


def _per_job_row(latency: float, n: int, runs: int) -> Row:
    with _stack(latency, n) as (endpoint, redis_url, up):
        ids = itertools.count()

        def settings(name: str) -> dict[str, object]:
            return config(endpoint, _new_bucket(endpoint, name), redis_url, up)

        def worker() -> float:
            run = next(ids)
            chosen = settings(f"bench-job-w{run}")
            empty = _burst(chosen, 1)  # start-up and shut-down alone
            _enqueue(chosen, up, n, f"w{run}-")
            full = _burst(chosen, 1)
            return (full - empty) / n * 1e3

        def loop() -> float:
            run = next(ids)
            got = probe(
                "mirror-loop",
                config=settings(f"bench-job-l{run}"),
                n=n,
                prefix=f"l{run}-",
                source=up,
            )
            return got["seconds"] / n * 1e3

        got = interleave(runs, loop=loop, worker=worker)
    return judged(
        f"per job, download latency {latency * 1e3:.0f} ms ({n} jobs a run)",
        got["worker"],
        got["loop"],
        "ms",
        "delta",
        at_most=25,
    )


def per_job(lines: list[str]) -> None:
    runs = 5
    rows = [
        _per_job_row(latency, n, runs)
        for latency, n in ((0.0, pick(30, 8)), (0.1, pick(15, None)))
        if n
    ]
    lines += [
        "## Cost of a job in a forking worker, beyond the download",
        "",
        "Ours: jobs of a tiny asset (3 kB WAV) from the fake upstream, worked by",
        "`flask indox-media worker --burst` in its own process (RQ forks a work horse",
        "per job), per job: (wall time with the jobs - wall time of the same command",
        "on an empty queue) / jobs. Baseline: the same `mirror_url` called in a loop",
        "in one process, after one warm-up call. The difference is what the worker",
        "adds per job (goal <= 25 ms). `--quick` runs only the first row.",
        runs_note(runs),
        "",
    ]
    table(lines, rows)


def scale_out(lines: list[str]) -> None:
    runs, n = 5, pick(40, 16)
    counts = (1, 2, 4)
    with (
        _stack(0.1, n) as (endpoint, redis_url, up),
        tempfile.TemporaryDirectory(prefix="bench-site-") as site,
    ):
        Path(site, "sitecustomize.py").write_text(_SITECUSTOMIZE, encoding="utf-8")
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **CREDS)
        ids = itertools.count()
        checks: dict[str, list[float]] = {"dup": [], "lost": [], "failed": []}

        def run(workers: int) -> float:
            name = f"bench-scale-{next(ids)}"
            settings = config(endpoint, _new_bucket(endpoint, name), redis_url, up)
            _enqueue(settings, up, n, name + "-")
            log = Path(site, name + ".log")
            log.touch()
            took = _burst(
                settings,
                workers,
                BENCH_PUT_LOG=str(log),
                PYTHONPATH=os.pathsep.join([site, ROOT]),
            )
            puts = len(log.read_text(encoding="ascii").split())
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=name)
            stored = sum(len(page.get("Contents", ())) for page in pages)
            state = create_app(settings).extensions["indox_media"]
            checks["dup"].append(puts - stored)
            checks["lost"].append(n - stored)
            checks["failed"].append(state.queue.failed_count())
            return n / took

        got = interleave(runs, **{str(w): (lambda w=w: run(w)) for w in counts})
    per_worker = {w: [t / w for t in got[str(w)]] for w in counts}
    rows = [
        judged(
            "throughput, 4 workers vs 1",
            got["4"],
            got["1"],
            "jobs/s",
            "ratio",
            at_least=3.5,
        ),
        judged("throughput, 2 workers vs 1", got["2"], got["1"], "jobs/s", "ratio"),
        *(
            judged(
                f"jobs/s per worker process, {w} worker(s)",
                per_worker[w],
                None,
                "jobs/s",
                "value",
                at_least=8,
            )
            for w in counts
        ),
        judged(
            "duplicate writes (PutObject - objects), per run",
            checks["dup"],
            None,
            "",
            "value",
            at_most=0,
        ),
        judged(
            "losses (jobs - objects), per run",
            checks["lost"],
            None,
            "",
            "value",
            at_most=0,
        ),
        judged("failed jobs, per run", checks["failed"], None, "", "value", at_most=0),
    ]
    lines += [
        "## Scale-out: 1, 2 and 4 worker processes on one Redis",
        "",
        f"{n} mirror jobs of a tiny asset, each download answered after 100 ms by the",
        "fake upstream (gunicorn, one process of 32 threads, so it is not the",
        "bottleneck), worked by 1, 2 or 4 `flask indox-media worker --burst`",
        "processes started together; throughput = jobs / wall time until the last",
        "exits (start-up included). PutObject requests are counted in every worker",
        "and work horse (a `sitecustomize` hooks botocore), objects by listing the",
        "run's own bucket.",
        runs_note(runs),
        "",
    ]
    table(lines, rows)
