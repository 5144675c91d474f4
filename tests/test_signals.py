"""Signals for host apps, and the Prometheus metrics built on them."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from prometheus_client import REGISTRY

from flask_indox_media import metrics
from flask_indox_media.signals import asset_detected, asset_mirrored, mirror_failed
from tests.conftest import ALICE

P = "/api/v1/resemble"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_signals_and_metrics(gateway: Flask, fake: Any, upstream: str) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    receivers = {
        "detected": lambda sender, **kw: seen.append(("detected", kw)),
        "mirrored": lambda sender, **kw: seen.append(("mirrored", kw)),
        "failed": lambda sender, **kw: seen.append(("failed", kw)),
    }
    ok_before = sample("indox_media_mirrors_total", asset_class="tts", result="ok")
    failed_before = sample(
        "indox_media_mirrors_total", asset_class="tts", result="failed"
    )
    bytes_before = sample("indox_media_mirrored_bytes_total", asset_class="tts")
    client = gateway.test_client()
    with (
        asset_detected.connected_to(receivers["detected"]),
        asset_mirrored.connected_to(receivers["mirrored"]),
        mirror_failed.connected_to(receivers["failed"]),
    ):
        item = client.post(
            f"{P}/projects/p/clips",
            json={"voice_uuid": "v", "body": "x"},
            headers=ALICE,
        )
        fake.clips["gone"] = {
            "uuid": "gone",
            "audio_src": upstream + "/files/missing.wav",
        }
        client.get(f"{P}/projects/p/clips/gone", headers=ALICE)
    kinds = [k for k, _ in seen]
    assert kinds == ["detected", "mirrored", "detected", "failed"]
    assert seen[0][1] == {"kind": "clip", "asset_class": "tts", "user_id": "alice"}
    size = seen[1][1]["size"]
    assert size > 1000 and seen[1][1]["key"].startswith("tts/alice/")
    assert seen[3][1]["error"] == "StorageError"
    assert "?" not in repr(seen)  # no query strings (signatures) in what is sent
    assert item.status_code == 200
    assert (
        sample("indox_media_mirrors_total", asset_class="tts", result="ok")
        == ok_before + 1
    )
    assert (
        sample("indox_media_mirrors_total", asset_class="tts", result="failed")
        == failed_before + 1
    )
    assert (
        sample("indox_media_mirrored_bytes_total", asset_class="tts")
        == bytes_before + size
    )


def test_the_queue_depth_is_read_at_most_once_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reading the depth is a Redis round trip; a worker finishes mirrors
    faster than anyone scrapes them."""
    metrics.install()
    reads: list[int] = []
    queue = SimpleNamespace(name="depth-once", count=lambda: reads.append(7) or 7)
    state = SimpleNamespace(queue=queue)
    clock = iter([100.0, 100.5, 101.2])
    monkeypatch.setattr(metrics.time, "monotonic", lambda: next(clock))
    for _ in range(3):
        asset_mirrored.send(
            state, asset_class="tts", size=1, seconds=0.1, skipped=False
        )
    assert len(reads) == 2  # at 100.0 and 101.2, not 100.5
    assert sample("indox_media_queue_depth", queue="depth-once") == 7
