"""Making clips: their audio, timestamps and records, shared by the clip,
batch and direct-synthesis routes."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from ..audio import audio_bytes

if TYPE_CHECKING:
    from .core import FakeResemble

#: Seconds of audio every synthesis makes.
CLIP_SECONDS = 0.5

_MEDIA_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg"}


def output_format(body: dict[str, Any]) -> str:
    """``wav`` (the default) or ``mp3``; other formats are answered as WAV."""
    fmt = str(body.get("output_format") or "wav").lower()
    return fmt if fmt in _MEDIA_TYPES else "wav"


def timestamps(text: str, seconds: float = CLIP_SECONDS) -> dict[str, Any]:
    """Resemble's ``audio_timestamps``: characters spread evenly over the clip."""
    chars = list(text) or [" "]
    step = seconds / len(chars)
    times = [[round(i * step, 4), round((i + 1) * step, 4)] for i in range(len(chars))]
    return {
        "graph_chars": chars,
        "graph_times": times,
        "phon_chars": chars,
        "phon_times": times,
    }


def make_audio(fake: FakeResemble, fmt: str) -> tuple[bytes, str]:
    """Synthesized audio in ``fmt``, stored; returns the bytes and their URL."""
    data = audio_bytes(fmt, CLIP_SECONDS)
    return data, fake.add_file(data, _MEDIA_TYPES[fmt], fmt)


def make_clip(
    fake: FakeResemble, project: str, body: dict[str, Any], text: str
) -> tuple[dict[str, Any], bytes]:
    """A finished clip of ``text`` (audio stored, record kept in
    ``fake.clips``); returns the record and the audio bytes."""
    data, url = make_audio(fake, output_format(body))
    uuid = fake.new_id("clip-")
    clip = fake.stamp(
        {
            "uuid": uuid,
            "title": body.get("title"),
            "body": text,
            "voice_uuid": body.get("voice_uuid"),
            "is_archived": bool(body.get("is_archived", False)),
            "character_count": len(text),
            "duration": CLIP_SECONDS,
            "audio_src": url,
        }
    )
    clip["last_generated_at"] = clip["created_at"]
    fake.clips[uuid] = clip
    fake.clip_projects[uuid] = project
    return clip, data


def encoded(data: bytes) -> str:
    return base64.b64encode(data).decode()
