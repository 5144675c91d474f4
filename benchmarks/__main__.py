"""Run the benchmarks: ``python -m benchmarks [--quick] [section ...]``.

A full run writes docs/benchmarks.md; ``--quick`` (fewer and smaller runs,
still at least five interleaved where time is reported, and without the
sections in NOT_QUICK unless named) only prints, as does a run of named
sections.
"""

from __future__ import annotations

import argparse
import os
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from . import counts, gateway, load, media, mirror, ops, storage, streaming, workers
from .common import Mode, machine

SECTIONS: dict[str, Callable[[list[str]], None]] = {
    "presign": storage.presign,
    "uploads": storage.uploads,
    "hook": gateway.hook_latency,
    "server": gateway.server_overhead,
    "redis": counts.redis_per_response,
    "requests": counts.s3_per_asset,
    "mirror": mirror.mirror,
    "upload": media.upload,
    "job": workers.per_job,
    "scale": workers.scale_out,
    "visible": gateway.enqueue_to_visible,
    "inline": gateway.inline_decision,
    "erase": ops.erase,
    "backfill": ops.backfill,
    "load": load.load_test,
    "stream": streaming.first_byte_latency,
}
#: Left out of a quick run unless named: minutes each even when small.
NOT_QUICK = ("scale", "load", "erase", "backfill")
OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small runs; print only")
    parser.add_argument(
        "sections", nargs="*", choices=[[], *SECTIONS], metavar="section"
    )
    args = parser.parse_args()
    Mode.quick = args.quick
    chosen = args.sections or [
        name for name in SECTIONS if not (args.quick and name in NOT_QUICK)
    ]
    command = "python -m benchmarks" + (" --quick" if args.quick else "")
    if args.sections:
        command += " " + " ".join(args.sections)
    lines = [
        "# Benchmarks",
        "",
        f"Made by `{command}` (from the repository root, in the project's",
        "virtualenv with the `bench` extra: `.venv/bin/pip install -e .[test,bench]`,",
        "then `.venv/bin/python -m benchmarks`; `--quick` runs fewer and smaller rounds",
        "and only prints). Every timed row is the median of at least 5 runs, ours and",
        "its baseline interleaved in the same run, with the range (min-max) of the runs,",
        "its goal, and whether the median meets it. The machine is shared: read the",
        "ratios, and the ranges. Where a goal is not met, the profile that shows",
        "where the time goes, and what would go lower, is in docs/performance.rst.",
        "",
        f"Machine: {machine()}. Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC,"
        f" load average at the start {os.getloadavg()[0]:.2f}.",
        "",
    ]
    begun = time.perf_counter()
    for name in chosen:
        print(f"running {name}...", flush=True)
        start = time.perf_counter()
        try:
            SECTIONS[name](lines)
        except Exception as exc:  # one broken section must not lose the others
            traceback.print_exc()
            lines += [f"## {name}: FAILED ({type(exc).__name__}: {exc})", ""]
        print(f"  {name}: {time.perf_counter() - start:.0f} s", flush=True)
    lines.append(
        f"The whole run took {(time.perf_counter() - begun) / 60:.1f} minutes;"
        f" load average at the end {os.getloadavg()[0]:.2f}."
    )
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick and not args.sections:
        OUT.write_text(text, encoding="utf-8")
        print(f"written to {OUT}")


if __name__ == "__main__":
    main()
