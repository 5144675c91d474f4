"""Finding audio in Resemble's JSON, by the rules of :mod:`~flask_indox_media.endpoints`.

Pure: no I/O, no app. The assets found keep a reference to the JSON object that
holds them, so the rewrite can add the asset's fields next to the audio.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..endpoints import ENDPOINTS, Rule, rules
from ..media_types import SNIFF_BYTES, MediaType, sniff

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

    @property
    def inline(self) -> bool:
        return self.rule.inline

    def identity(self, user_id: str, route_id: str | None) -> str | None:
        """What names this asset across repeated polls (``None``: always new).

        The upstream object's own id when it has one, with the audio URL's
        path (a clip synthesized again gets new audio at a new path, so a new
        asset; a job's result keeps its path while its signed query changes
        from poll to poll); else the polled job's id and the JSON path; else
        the URL without its query.
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
            source = self.value.split("?", 1)[0]
            name = f"id:{anchor}:{index}:{self.field}:{source}"
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
    media_type = sniff(data[:SNIFF_BYTES])
    if media_type is None or media_type.kind != "audio":
        return None
    return data, media_type


#: Each kind's field names as JSON writes them (``b'"audio_src"'``).
_NEEDLES: dict[str, tuple[bytes, ...]] = {
    kind: tuple({f'"{rule.path[-1]}"'.encode() for rule in endpoint.rules})
    for kind, endpoint in ENDPOINTS.items()
}


def may_carry_audio(body: bytes, kind: str | None) -> bool:
    """Whether ``body`` (JSON) can hold audio of ``kind``: one of its rules'
    field names appears in it, or a ``\\u`` escape, which could spell one,
    or it is not UTF-8 (JSON may be UTF-16 or 32). ``False`` means
    :func:`extract` finds nothing, so it need not be parsed. A scan at
    memory speed, no parsing."""
    needles = _NEEDLES.get(kind or "", ())
    if not needles:
        return False
    if json.detect_encoding(body) not in ("utf-8", "utf-8-sig"):
        return True
    return b"\\u" in body or any(n in body for n in needles)


def extract(payload: Any, kind: str | None) -> list[Found]:
    """Every asset in ``payload`` by the rules of ``kind``, at most one per object."""
    found: list[Found] = []
    seen: set[int] = set()
    for rule in rules(kind):
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
