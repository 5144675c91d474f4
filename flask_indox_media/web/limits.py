"""The guard on JSON request bodies, run before every gateway route: a body
is read only up to :data:`~flask_indox_media.config.INDOX_MEDIA_MAX_JSON_BYTES`
(413 beyond), and one nested deeper than :data:`MAX_JSON_DEPTH` is refused with
400 before anything parses it.

Python's JSON parser, like marshmallow and the rewrite after it, recurses once
per level: ``[`` * 100000 raises :class:`RecursionError`, which no parser turns
into a client error. Guarding the request once covers every way a route reads
JSON (webargs, ``request.get_json``, the raw body).
"""

from __future__ import annotations

import json
import re
from itertools import accumulate

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from ..exceptions import RequestError
from ..state import current_state

#: The deepest nesting of arrays and objects a JSON body may have; Resemble's
#: bodies have a handful of levels.
MAX_JSON_DEPTH = 128

#: Endpoints that read their body as JSON whatever its content type.
FORCED_JSON_ENDPOINTS = frozenset({"indox_media_gateway.callback"})

# Exact for UTF-8, where '"' and '\' never occur inside a multi-byte character.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def json_depth(data: bytes) -> int:
    """How deeply arrays and objects nest in the UTF-8 JSON text ``data``,
    found without parsing it (brackets inside strings do not count)."""
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    if len(brackets) <= 1:
        return len(brackets)
    steps = memoryview(brackets.translate(_STEPS)).cast("b")  # +1 / -1
    return max(accumulate(steps))


def check_json_body() -> None:
    """Refuse a JSON body that is too large (413), not UTF-8 or too deep (400).

    :raises RequestError: as above.
    """
    if not (request.is_json or request.endpoint in FORCED_JSON_ENDPOINTS):
        return
    limit = current_state().settings.max_json_bytes
    if request.max_content_length is not None:
        limit = min(limit, request.max_content_length)
    if (request.content_length or 0) > limit:
        raise RequestError(413, f"a JSON body may have at most {limit} bytes")
    # A chunked body is cut one byte past the limit (werkzeug does not raise
    # then), so one that reaches the cut is too large.
    request.max_content_length = limit + 1
    try:
        data: bytes | None = request.get_data(cache=True)
    except RequestEntityTooLarge:
        data = None
    if data is None or len(data) > limit:
        raise RequestError(413, f"a JSON body may have at most {limit} bytes")
    if data and json.detect_encoding(data) not in ("utf-8", "utf-8-sig"):
        raise RequestError(400, "a JSON body must be UTF-8")
    if json_depth(data) > MAX_JSON_DEPTH:
        raise RequestError(
            400, f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels"
        )
