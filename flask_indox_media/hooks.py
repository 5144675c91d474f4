"""Finding audio in Resemble's JSON and rewriting the response around it.

Which fields carry audio depends on the endpoint, so each kind of response has
its rules: a path into the JSON (``[]`` stands for every element of a list),
the asset class, and whether the value is a URL or inline base64. The fields a
client sees (``asset_id``, ``audio_url``, ``expires_at``, ``resemble_url``) are
added to the object that holds the asset.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .media_types import MediaType, sniff
from .signals import asset_detected

if TYPE_CHECKING:
    from .extension import IndoxMediaState

logger = logging.getLogger("flask_indox_media")


@dataclass(frozen=True)
class Rule:
    """Where one kind of response carries audio."""

    path: tuple[str, ...]
    asset_class: str
    inline: bool = False


def _rules(asset_class: str, *fields: str, inline: bool = False) -> tuple[Rule, ...]:
    """A field at the top level, in ``item``, and in each of ``items[]``."""
    out: list[Rule] = []
    for field in fields:
        out += [
            Rule((field,), asset_class, inline),
            Rule(("item", field), asset_class, inline),
            Rule(("items", "[]", field), asset_class, inline),
        ]
    return tuple(out)


#: Response kind -> the rules that find its audio (see resemble-api.md, 2.14).
RULES: dict[str, tuple[Rule, ...]] = {
    "tts": _rules("tts", "audio_content", inline=True),
    "clip": _rules("tts", "audio_src") + _rules("tts", "raw_audio", inline=True),
    "clip_callback": (Rule(("url",), "tts"),),
    "batch": (
        Rule(("clips", "[]", "audio_src"), "tts"),
        Rule(("item", "clips", "[]", "audio_src"), "tts"),
    ),
    "recording": _rules("voice_recordings", "audio_src"),
    "voice": _rules("voices", "sample_url", "audio_src"),
    "voice_design": (
        Rule(("voice_candidates", "[]", "audio_url"), "voice_design"),
        Rule(("voice_candidates", "samples", "[]", "audio_url"), "voice_design"),
    ),
    "stt": _rules("stt_input", "file_url"),
    "enhance": _rules("audio_jobs", "enhanced_audio_url"),
    "edit": _rules("audio_jobs", "result_audio_url"),
    "watermark": _rules("watermark", "watermarked_media", "watermarked_audio"),
}

#: The fields every asset gains.
ADDED_FIELDS = ("asset_id", "audio_url", "expires_at", "resemble_url")
_ID_FIELDS = ("uuid", "id")
_INDEX_FIELDS = ("voice_sample_index", "sample_index")


@dataclass
class Found:
    """One asset found in a response."""

    container: dict[str, Any]
    field: str
    value: str
    rule: Rule
    path: str
    media_type: MediaType | None = None
    data: bytes | None = None

    def identity(self, user_id: str, route_id: str | None) -> str | None:
        """What names this asset across repeated polls (``None``: always new).

        The upstream object's own id when it has one; else the polled job's id
        and the path; else the URL without its (signed, changing) query.
        """
        if self.rule.inline:
            return None
        anchor = next(
            (str(self.container[f]) for f in _ID_FIELDS if self.container.get(f)), None
        )
        if anchor is not None:
            index = next(
                (str(self.container[f]) for f in _INDEX_FIELDS if f in self.container),
                "",
            )
            name = f"id:{anchor}:{index}:{self.field}"
        elif route_id:
            name = f"route:{route_id}:{self.path}"
        else:
            name = "url:" + self.value.split("?", 1)[0]
        digest = hashlib.sha256(
            f"{user_id}|{self.rule.asset_class}|{name}".encode()
        ).hexdigest()
        return digest[:40]


def _walk(
    node: Any, path: tuple[str, ...], trail: str
) -> Iterator[tuple[dict[str, Any], str, str]]:
    if not path:
        return
    head, rest = path[0], path[1:]
    if head == "[]":
        if isinstance(node, list):
            for i, element in enumerate(node):
                yield from _walk(element, rest, f"{trail}.{i}")
        return
    if not isinstance(node, dict) or head not in node:
        return
    if not rest:
        yield node, head, f"{trail}.{head}".lstrip(".")
    else:
        yield from _walk(node[head], rest, f"{trail}.{head}")


def decode_inline(value: str) -> tuple[bytes, MediaType] | None:
    """Inline base64 audio, decoded and recognised; ``None`` if it is not."""
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    media_type = sniff(data[:64])
    if media_type is None or media_type.kind != "audio":
        return None
    return data, media_type


def extract(payload: Any, kind: str) -> list[Found]:
    """Every asset in ``payload`` by the rules of ``kind``, at most one per object."""
    found: list[Found] = []
    seen: set[int] = set()
    for rule in RULES.get(kind, ()):
        for container, field, path in _walk(payload, rule.path, ""):
            value = container.get(field)
            if not isinstance(value, str) or not value or id(container) in seen:
                continue
            item = Found(container, field, value, rule, path)
            if rule.inline:
                decoded = decode_inline(value)
                if decoded is None:
                    continue
                item.data, item.media_type = decoded
            elif not value.lower().startswith(("http://", "https://")):
                continue
            seen.add(id(container))
            found.append(item)
    return found


def rewrite(
    state: IndoxMediaState,
    body: bytes,
    kind: str,
    user_id: str,
    route_id: str | None = None,
) -> bytes | None:
    """The rewritten JSON of a response of ``kind``, or ``None`` when it carries
    no audio (the original bytes then go out untouched).

    Each asset's key is fixed now, so ``audio_url`` is presigned before the
    object exists; the mirror runs in a job (or in-process without Redis).
    """
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    found = extract(payload, kind)
    if not found:
        return None
    claimed = state.mirror.claim(found, user_id, route_id)
    for item, (asset, new) in zip(found, claimed, strict=True):
        asset_detected.send(
            state, kind=kind, asset_class=item.rule.asset_class, user_id=user_id
        )
        fields = state.describe(
            asset, resemble_url=None if item.rule.inline else item.value
        )
        container = item.container
        if item.rule.inline:
            state.mirror.store_inline(asset, item)
            if state.settings.strip_inline_audio:
                del container[item.field]
        elif new:
            # Seen before: its job was enqueued then (a failure of it stays in
            # RQ's failed registry, to re-run).
            state.mirror.schedule(asset, item.value)
        container.update(fields)
    return json.dumps(payload).encode()
