"""Run every benchmark and write docs/benchmarks.md."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from . import counts, gateway, media, ops, storage, streaming
from .common import machine

SECTIONS = {
    "presign": storage.presign,
    "uploads": storage.uploads,
    "hook": gateway.hook_latency,
    "redis": counts.redis_per_response,
    "requests": counts.s3_per_asset,
    "mirror": gateway.mirror_throughput,
    "visible": gateway.enqueue_to_visible,
    "inline": gateway.inline_decision,
    "upload": media.upload_200mb,
    "erase": ops.erase,
    "backfill": ops.backfill,
    "stream": streaming.first_byte_latency,
}


def main(argv: list[str]) -> None:
    chosen = argv or list(SECTIONS)
    lines = [
        "# Benchmarks",
        "",
        "Made by `python -m benchmarks` (from the repository root, in the project's",
        "virtualenv: `.venv/bin/python -m benchmarks`); every number is next to a",
        "baseline measured in the same run. Timings on shared 2-core machines vary by",
        "10-30% between runs: read the ratios.",
        "",
        f"Machine: {machine()}. Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
    ]
    for name in chosen:
        print(f"running {name}...", flush=True)
        SECTIONS[name](lines)
    out = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"written to {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
