"""What every benchmark shares: the run mode, interleaved sampling, the table
of rows (median, min-max, goal, met), memory of a process, a moto server
process, gunicorn, and streams."""

from __future__ import annotations

import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import boto3

from flask_indox_media.testing import free_port, serve_process
from flask_indox_media.testing.server import wait_listening

MiB = 1024 * 1024
CREDS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
#: Fewest interleaved runs behind any timed row.
MIN_RUNS = 5


class Mode:
    """Full (``python -m benchmarks``) or quick (``--quick``): fewer and
    smaller runs, never fewer than :data:`MIN_RUNS` where time is reported."""

    quick = False


def pick(full: Any, quick: Any) -> Any:
    """``full`` in a full run, ``quick`` with ``--quick``."""
    return quick if Mode.quick else full


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next(
                line.split(":", 1)[1].strip()
                for line in fh
                if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


# Sampling ---------------------------------------------------------------


def interleave(runs: int, **contenders: Callable[[], Any]) -> dict[str, list[Any]]:
    """Call each contender once per round, in the order given (A B A B ...),
    for ``runs`` rounds, so all of them see the same drift and neighbours'
    noise; returns each one's results (a number or a dict of numbers)."""
    results: dict[str, list[Any]] = {name: [] for name in contenders}
    for _ in range(max(runs, MIN_RUNS)):
        for name, fn in contenders.items():
            results[name].append(fn())
    return results


def seconds(fn: Callable[[], object]) -> Callable[[], float]:
    """``fn`` made into a contender whose result is its wall time."""

    def timed() -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    return timed


def per_call(fn: Callable[[], object], calls: int) -> Callable[[], float]:
    """A contender whose result is the mean seconds per call of ``calls`` calls."""

    def timed() -> float:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        return (time.perf_counter() - start) / calls

    return timed


def field(results: Sequence[dict[str, float]], name: str) -> list[float]:
    return [r[name] for r in results]


def scaled(samples: Sequence[float], factor: float) -> list[float]:
    return [s * factor for s in samples]


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


# Rows -------------------------------------------------------------------

Compare = Literal["ratio", "delta", "value"]


@dataclass(frozen=True)
class Row:
    """One line of a results table: our samples and the baseline's (the
    same number, taken interleaved), what is compared, the goal and whether
    the median meets it (``None``: no goal, a figure for reference)."""

    what: str
    goal: str
    ours: Sequence[float]
    baseline: Sequence[float] | None
    unit: str
    compare: Compare
    met: bool | None

    @property
    def figure(self) -> float:
        ours = statistics.median(self.ours)
        if self.compare == "value" or not self.baseline:
            return ours
        base = statistics.median(self.baseline)
        return ours / base if self.compare == "ratio" else ours - base


def judged(
    what: str,
    ours: Sequence[float],
    baseline: Sequence[float] | None,
    unit: str,
    compare: Compare,
    *,
    at_most: float | None = None,
    at_least: float | None = None,
) -> Row:
    """A :class:`Row` whose goal (``at_most`` or ``at_least`` the compared
    figure) is written out and checked; neither: a reference figure."""
    row = Row(what, "", ours, baseline, unit, compare, None)
    suffix = {"ratio": "x", "delta": f" {unit}", "value": f" {unit}"}[compare]
    sign = "+" if compare == "delta" else ""
    if at_most is not None:
        goal = f"<= {sign}{_num(at_most)}{suffix}"
        met: bool | None = row.figure <= at_most
    elif at_least is not None:
        goal = f">= {sign}{_num(at_least)}{suffix}"
        met = row.figure >= at_least
    else:
        goal, met = "reference", None
    return Row(what, goal, ours, baseline, unit, compare, met)


def _num(value: float) -> str:
    if value == int(value) and abs(value) < 1e6:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _spread(samples: Sequence[float] | None, unit: str) -> str:
    if not samples:
        return ""
    median = statistics.median(samples)
    if len(samples) == 1 or min(samples) == max(samples):
        return f"{_num(median)} {unit}"
    return f"{_num(median)} {unit} ({_num(min(samples))}-{_num(max(samples))})"


def table(lines: list[str], rows: Sequence[Row]) -> None:
    """Append ``rows`` as a Markdown table: medians with min-max, the
    compared figure, the goal and whether it is met."""
    lines += [
        "| | ours: median (min-max) | baseline: median (min-max) | ours vs baseline | goal | met |",
        "|---|---:|---:|---:|---|---|",
    ]
    for row in rows:
        if row.compare == "ratio" and row.baseline:
            compared = f"{row.figure:.2f}x"
        elif row.compare == "delta" and row.baseline:
            compared = f"{row.figure:+.3g} {row.unit}"
        else:
            compared = ""
        met = {True: "**yes**", False: "**NO**", None: ""}[row.met]
        lines.append(
            f"| {row.what} | {_spread(row.ours, row.unit)} | "
            f"{_spread(row.baseline, row.unit)} | {compared} | {row.goal} | {met} |"
        )
    lines.append("")


def runs_note(runs: int) -> str:
    return (
        f"Each timed row: the median of {max(runs, MIN_RUNS)} runs, ours and the "
        "baseline interleaved (A B A B ...), with the range of the runs."
    )


# Processes --------------------------------------------------------------


def status(pid: int | str = "self") -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak RSS) of a process, in bytes."""
    values = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0]) * 1024
    return values


def process_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and of its children it has waited for (a
    forking worker's work horses)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def reset_peak(pid: int | str = "self") -> None:
    """Reset a process's peak RSS (``VmHWM``) to its current RSS (Linux 4.0+)."""
    with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as fh:
        fh.write("5")


def python_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }
    env.update(extra)
    return env


@contextmanager
def moto_server() -> Iterator[str]:
    """moto in server mode, in a process of its own (its memory is not ours)."""
    with moto_process() as (endpoint, _):
        yield endpoint


@contextmanager
def moto_process() -> Iterator[tuple[str, int]]:
    """:func:`moto_server`, and its process id (to read its CPU time)."""
    port = free_port()
    with serve_process(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], port
    ) as proc:
        yield f"http://127.0.0.1:{port}", proc.pid


@contextmanager
def gunicorn(
    app: str,
    *,
    workers: int = 1,
    threads: int = 8,
    env: dict[str, str] | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``gunicorn`` serving ``app`` (``module:callable()``) with ``gthread``
    workers on a free loopback port; yields its URL and the master process."""
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--timeout",
        "300",
        "--log-level",
        "warning",
        app,
    ]
    proc = subprocess.Popen(argv, env=python_env(**(env or {})))
    try:
        wait_listening(proc, port, 60)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        proc.wait(20)


@contextmanager
def flask_run(app: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``flask run`` (werkzeug's threaded development server) in a process."""
    port = free_port()
    argv = [sys.executable, "-m", "flask", "--app", app, "run", "--port", str(port)]
    proc = subprocess.Popen(
        argv,
        env=python_env(**(env or {})),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(proc, port, 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(20)


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def probe(probe: str, **spec: Any) -> dict[str, float]:
    """Run one :mod:`benchmarks.probe` measurement in a fresh process."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.probe",
            json.dumps({"probe": probe, **spec}),
        ],
        capture_output=True,
        check=False,
        cwd=ROOT,
        env=python_env(),
    )
    if done.returncode:
        raise RuntimeError(f"probe {probe} failed: {done.stderr.decode()[-2000:]}")
    return json.loads(done.stdout.decode().splitlines()[-1])  # type: ignore[no-any-return]


def children(pid: int) -> list[int]:
    """The ids of ``pid``'s child processes (a gunicorn master's workers)."""
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as fh:
        return [int(p) for p in fh.read().split()]


def bucket(endpoint: str, name: str, **client: Any) -> str:
    s3 = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", **(client or CREDS)
    )
    s3.create_bucket(Bucket=name)
    return name


class PatternStream(io.RawIOBase):
    """``size`` bytes made on the fly: a non-seekable stream that holds none of
    them, as an HTTP download is."""

    def __init__(self, size: int) -> None:
        self._left = size
        self._block = bytes(range(256)) * 4096  # 1 MiB

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self._left, len(self._block))
        buffer[:n] = self._block[:n]
        self._left -= n
        return n
