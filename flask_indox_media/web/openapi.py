"""The gateway's OpenAPI description: its tags, its security schemes, how a
relayed answer is documented, and :func:`prepare_api`, which readies an
``Api`` (the extension's own or the host's) before the blueprint is
registered on it.

The routes return Resemble's JSON as a ready ``Response``, so their answers are
documented with ``alt_response(..., success=True)``: documented, never
re-serialized.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar

from flask_smorest.error_handler import ErrorSchema
from marshmallow import fields

from ..assets import AssetSchema
from .blueprint import bp
from .responses import ResembleBody, WithAsset

F = TypeVar("F", bound=Callable[..., Any])

# One tag per area of the gateway.
TTS = "TTS"
VOICES = "Voices"
VOICE_DESIGN = "Voice design"
STT = "STT"
AUDIO_JOBS = "Audio jobs"
WATERMARK = "Watermark"
CLIPS = "Projects and clips"
UPLOADS = "Uploads"
MEDIA = "Media"
NATIVE = "Native API"
CALLBACKS = "Callbacks"

#: Each tag and what it groups.
TAGS: dict[str, str] = {
    TTS: "Text-to-speech: the inline audio is mirrored (class tts).",
    VOICES: "Voices and their training recordings (class voice_recordings).",
    VOICE_DESIGN: "Candidate voices from a description (class voice_design).",
    STT: "Speech-to-text jobs; the input audio is mirrored (class stt_input).",
    AUDIO_JOBS: "Enhance and edit jobs; the result is mirrored on the first poll "
    "that shows it (class audio_jobs).",
    WATERMARK: "Watermark apply and detect (class watermark).",
    CLIPS: "A project's clips, synchronous or with a callback (class tts).",
    UPLOADS: "The caller's own files, stored by purpose.",
    MEDIA: "The caller's assets, by asset_id.",
    NATIVE: "Resemble's own API, passed through for the official SDK; audio is "
    "mirrored by path.",
    CALLBACKS: "Resemble's calls back to the gateway (authenticated by a signed "
    "token in the path, not an API key).",
}

BEARER = "gatewayBearer"
SDK_TOKEN = "gatewaySdkToken"
#: The gateway's security schemes: either header form of the caller's API key.
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "description": "The caller's API key: Authorization: Bearer <key>.",
    },
    SDK_TOKEN: {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "The official resemble SDK's form: Authorization: "
        "Token token=<key>.",
    },
}
#: Either scheme will do.
SECURITY: list[dict[str, list[str]]] = [{BEARER: []}, {SDK_TOKEN: []}]

#: What else than the documented answer a caller may get.
#: The default answer of a route relaying Resemble: its 4xx pass through.
PASSED_THROUGH_ERRORS = {
    "description": "An error: the gateway's own in the error shape (code, status, "
    "message, errors), or Resemble's 4xx answer passed through as it came.",
    "content": {"application/json": {"schema": {"anyOf": [ErrorSchema, ResembleBody]}}},
}
#: The gateway's own failures on a route that calls Resemble.
_GATEWAY_ERRORS = (401, 502, 504)


def secured(view: F) -> F:
    """Document that ``view`` takes the caller's API key (answering 401 without)."""
    view = bp.alt_response(401, response=HTTPStatus(401).name)(view)
    return bp.doc(security=SECURITY)(view)  # type: ignore[no-any-return]


def relays(
    schema: Any, *, status: int = 200, description: str = "Resemble's answer"
) -> Callable[[F], F]:
    """Document a route that relays Resemble's answer, with the asset fields
    added where its audio is: ``schema`` for ``status``, the gateway's own
    errors, and Resemble's errors passed through."""

    def decorate(view: F) -> F:
        for code in _GATEWAY_ERRORS:
            view = bp.alt_response(code, response=HTTPStatus(code).name)(view)
        view = bp.alt_response(
            status, schema=schema, description=description, success=True
        )(view)
        view = bp.doc(security=SECURITY, responses={"default": PASSED_THROUGH_ERRORS})(
            view
        )
        return view

    return decorate


def passthrough_doc(summary: str, description: str) -> dict[str, Any]:
    """The generic description of a native pass-through route (for ``bp.doc``)."""
    return {
        "tags": [NATIVE],
        "summary": summary,
        "description": description,
        "security": SECURITY,
        "responses": {
            "200": {
                "description": "Resemble's answer, with the asset fields added next "
                "to each audio it carries; other statuses pass through as they came.",
                "content": {"application/json": {"schema": ResembleBody}},
            },
            "default": PASSED_THROUGH_ERRORS,
        },
    }


def _with_asset_property(
    self: Any, field: fields.Field[Any], ret: dict[str, Any], **kwargs: Any
) -> dict[str, Any]:
    """apispec attribute function: a :class:`WithAsset` field is ``allOf`` the
    asset's fields and its own object, both by reference."""
    if not isinstance(field, WithAsset):
        return {}
    parts = ret.pop("allOf", [])
    if "$ref" in ret:
        parts.append({"$ref": ret.pop("$ref")})
    return {"allOf": [self.resolve_nested_schema(AssetSchema), *parts]}


def prepare_api(api: Any) -> None:
    """Ready ``api`` for the gateway blueprint: the :class:`WithAsset` field
    converter, the tags and the security schemes. Run before
    ``api.register_blueprint``; what ``api`` already has is kept."""
    converter = api.ma_plugin.converter
    hooks = [getattr(f, "__func__", f) for f in converter.attribute_functions]
    if _with_asset_property not in hooks:
        converter.add_attribute_function(_with_asset_property)
    components = api.spec.components
    for name, scheme in SECURITY_SCHEMES.items():
        if name not in components.security_schemes:
            components.security_scheme(name, scheme)
    for name, description in TAGS.items():
        api.spec.tag({"name": name, "description": description})
