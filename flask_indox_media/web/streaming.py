"""Streaming synthesis: Resemble's chunked audio relayed to the caller as it
arrives and teed, chunk by chunk, to a new ``tts`` asset
(:mod:`flask_indox_media.mirror.tee`). ``POST /stream`` takes the official
SDK's ``clips.stream`` (``Resemble.syn_server_url("<gateway>/api/v1/resemble/")``);
``POST /tts/stream`` is the gateway's own form (``text`` for ``data``).

The asset is known before the first byte, so its fields go out as headers
(:data:`ASSET_HEADERS`) rather than in a body that is audio.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, request, stream_with_context

from ..assets import Asset
from ..exceptions import StorageError
from ..media_types import WAV, MediaType, from_content_type
from ..mirror.tee import Tee
from ..state import current_state
from ..storage.writers import ObjectWriter
from .blueprint import bp, user_id
from .openapi import PASSED_THROUGH_ERRORS, TTS, passthrough_doc, secured
from .relay import relay
from .schemas import StreamArgs

logger = logging.getLogger("flask_indox_media")

#: Asset field -> the response header that carries it (``X-Expires-At`` is
#: absent for a permanent asset, ``X-Playback-Url`` without a base URL).
ASSET_HEADERS = {
    "asset_id": "X-Asset-Id",
    "asset_class": "X-Asset-Class",
    "audio_url": "X-Audio-Url",
    "playback_url": "X-Playback-Url",
    "expires_at": "X-Expires-At",
}

_STREAM_ANSWER: dict[str, Any] = {
    "description": "Resemble's audio (a WAV: 44-byte header, then PCM), sent as it "
    "arrives, chunked; the asset's fields are in the headers, before the body.",
    "headers": {
        header: {"schema": {"type": "string"}, "description": f"The asset's {field}"}
        for field, header in ASSET_HEADERS.items()
    },
    "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}},
}


def _prepare(
    media_type: MediaType,
) -> tuple[Asset, ObjectWriter, dict[str, str]] | None:
    """A new ``tts`` asset of ``media_type``, its writer and its headers, or
    ``None`` when the storage cannot take it (the audio then goes out
    without a copy: the caller's stream comes first)."""
    catalog = current_state().catalog
    asset = catalog.new("tts", user_id(), media_type.extension)
    try:
        writer = catalog.open_writer(asset, content_type=media_type.content_type)
    except StorageError as exc:
        logger.warning("indox-media: streaming without a copy: %s", exc)
        return None
    fields = catalog.describe(asset)
    headers = {h: str(fields[f]) for f, h in ASSET_HEADERS.items() if fields.get(f)}
    headers["Access-Control-Expose-Headers"] = ", ".join(headers)
    return asset, writer, headers


def stream_synthesis(**send: Any) -> Response:
    """Call Resemble's streaming endpoint with ``send`` (``json=`` or
    ``data=``) and relay its audio as it arrives, teed to a new ``tts`` asset.

    Anything but a 200 with audio passes through as it came, and nothing is
    stored.
    """
    state = current_state()
    upstream = state.upstream
    # Resemble streams WAV: the asset is ready before the request goes, so
    # nothing of it (a thread's first storage client, presigning) stands
    # between Resemble's first byte and the caller.
    copy = _prepare(WAV)
    # Compressing PCM gains little and would hold pieces back in the encoder.
    sent = {**send.pop("headers", {}), "Accept-Encoding": "identity"}
    try:
        response = upstream.request(
            "POST",
            upstream.synth_url + "stream",
            streaming=True,
            headers=sent,
            **send,
        )
    except BaseException:
        if copy is not None:
            copy[1].abort()
        raise
    media_type = from_content_type(response.headers.get("Content-Type"))
    if response.status_code != 200 or media_type is None or media_type.kind != "audio":
        if copy is not None:
            copy[1].abort()
        return relay(response, None)
    if copy is not None and media_type != WAV:
        copy[1].abort()
        copy = _prepare(media_type)
    if copy is None:
        return relay(response, None)
    asset, writer, headers = copy
    headers["Cache-Control"] = "no-store"
    headers["X-Accel-Buffering"] = "no"  # nginx: pass each chunk on at once
    tee = Tee(state, asset, response, writer, limit=state.settings.max_asset_bytes)
    return Response(
        stream_with_context(tee),
        status=200,
        headers=headers,
        content_type=response.headers["Content-Type"],
    )


@bp.route("/stream", methods=["POST"])
@bp.doc(
    **{
        **passthrough_doc(
            "Streaming synthesis, for the official SDK",
            "Resemble's streaming body as the SDK's clips.stream sends it "
            "(authenticated by x-access-token: <key>); the audio is relayed as it "
            "arrives and stored (class tts).",
        ),
        "responses": {"200": _STREAM_ANSWER, "default": PASSED_THROUGH_ERRORS},
    }
)
def sdk_stream() -> Response:
    """Resemble's streaming body, as the SDK's ``clips.stream`` sends it."""
    return stream_synthesis(
        data=request.get_data(),
        headers={"Content-Type": request.content_type or "application/json"},
    )


@bp.route("/tts/stream", methods=["POST"], tags=[TTS])
@bp.arguments(StreamArgs)
@bp.doc(responses={"200": _STREAM_ANSWER, "default": PASSED_THROUGH_ERRORS})
@secured
def tts_stream(args: dict[str, Any]) -> Response:
    """Synthesize speech, streamed.

    Resemble's streaming synthesis of text (sent as data) in voice_uuid:
    the audio is relayed as it arrives (no buffering) and stored at once as
    it passes (class tts). Its asset_id, audio_url, playback_url and
    expires_at are response headers, sent before the first byte. A caller that
    disconnects early still gets a whole object behind those links.
    """
    text = args.pop("text")
    body = {**args, "data": text}
    return stream_synthesis(json=body)
