"""Where Resemble's responses carry audio: one table, by kind of response.

Each kind has its rules (a path into the JSON, ``[]`` standing for every
element of a list; the asset class; whether the value is a URL or inline
base64) and the native ``/v2/`` paths that answer with it. The gateway's own
routes name their kind; the native pass-through finds it by path. Adding an
audio-bearing endpoint is a row here plus its route (docs/architecture.rst).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """Where one kind of response carries audio."""

    path: tuple[str, ...]
    asset_class: str
    inline: bool = False


@dataclass(frozen=True)
class Endpoint:
    """One kind of response: its rules, and the native ``/v2/`` paths (regular
    expressions; group 1, when present, holds the id the path names)."""

    rules: tuple[Rule, ...]
    native: tuple[str, ...] = ()


def fields(asset_class: str, *names: str, inline: bool = False) -> tuple[Rule, ...]:
    """A field at the top level, in ``item``, and in each of ``items[]``."""
    out: list[Rule] = []
    for name in names:
        out += [
            Rule((name,), asset_class, inline),
            Rule(("item", name), asset_class, inline),
            Rule(("items", "[]", name), asset_class, inline),
        ]
    return tuple(out)


#: Response kind -> its endpoint (see resemble-api.md, section 2).
ENDPOINTS: Mapping[str, Endpoint] = {
    "tts": Endpoint(fields("tts", "audio_content", inline=True)),
    "clip": Endpoint(
        fields("tts", "audio_src") + fields("tts", "raw_audio", inline=True),
        native=(r"projects/[^/]+/clips(/[^/]+)?/?$",),
    ),
    "clip_callback": Endpoint((Rule(("url",), "tts"),)),
    "batch": Endpoint(
        (
            Rule(("clips", "[]", "audio_src"), "tts"),
            Rule(("item", "clips", "[]", "audio_src"), "tts"),
        ),
        native=(r"projects/[^/]+/batch(/[^/]+)?/?$",),
    ),
    "recording": Endpoint(
        fields("voice_recordings", "audio_src"),
        native=(r"voices/[^/]+/recordings(/[^/]+)?/?$",),
    ),
    "voice": Endpoint(
        fields("voices", "sample_url", "audio_src"), native=(r"voices(/[^/]+)?/?$",)
    ),
    "voice_design": Endpoint(
        (
            Rule(("voice_candidates", "[]", "audio_url"), "voice_design"),
            Rule(("voice_candidates", "samples", "[]", "audio_url"), "voice_design"),
        ),
        native=(r"voice-design/?$",),
    ),
    "stt": Endpoint(
        fields("stt_input", "file_url"), native=(r"speech-to-text(/[^/]+)?/?$",)
    ),
    "enhance": Endpoint(
        fields("audio_jobs", "enhanced_audio_url"),
        native=(r"audio_enhancements(/[^/]+)?/?$",),
    ),
    "edit": Endpoint(
        fields("audio_jobs", "result_audio_url"), native=(r"edit(/[^/]+)?/?$",)
    ),
    "watermark": Endpoint(
        fields("watermark", "watermarked_media", "watermarked_audio"),
        native=(r"watermark/apply(/[^/]+/result)?/?$",),
    ),
}

#: The top-level paths of Resemble's ``/api/v2/`` (resemble-api.md, sections 2
#: and 4): the native pass-through forwards nothing else, so it cannot be
#: pointed at any other route of the upstream host with the gateway's key.
NATIVE_PREFIXES: tuple[str, ...] = (
    "agents",
    "audio_enhancements",
    "audio_source_tracings",
    "detect",
    "detects",
    "edit",
    "identity",
    "intelligence",
    "intelligences",
    "phonemes",
    "projects",
    "secure_uploads",
    "speech-to-text",
    "term_substitutions",
    "voice-design",
    "voices",
    "watermark",
)

_NATIVE: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), kind)
    for kind, endpoint in ENDPOINTS.items()
    for pattern in endpoint.native
)


def rules(kind: str | None) -> tuple[Rule, ...]:
    """The rules of ``kind`` (none for ``None`` or an unknown kind)."""
    endpoint = ENDPOINTS.get(kind or "")
    return endpoint.rules if endpoint else ()


def native_kind(path: str) -> tuple[str | None, str | None]:
    """The response kind of a native ``/v2/`` path, and the id it names."""
    for pattern, kind in _NATIVE:
        match = pattern.match(path)
        if match:
            tail = match.group(1) if pattern.groups else None
            return kind, tail.strip("/").split("/")[0] if tail else None
    return None, None
