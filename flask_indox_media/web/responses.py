"""The documented shapes of the gateway's answers, for the OpenAPI document
only: the routes relay Resemble's JSON as it comes (with each asset's fields
added), so nothing is serialized with these.

Every schema allows unknown fields (Resemble's bodies pass through, whatever
they hold) and names the fields the reference documents. Wherever an asset
appears, its fields are :class:`~flask_indox_media.assets.AssetSchema`, by
reference: :class:`WithAsset` for a nested object, :func:`with_asset` for a
whole body.
"""

from __future__ import annotations

from typing import Any

from marshmallow import INCLUDE, Schema, fields

from ..assets import AssetSchema


class WithAsset(fields.Nested):
    """A nested object that also carries an asset's fields (``allOf`` the
    asset and the object, in the document)."""


def with_asset(schema: type[Schema]) -> dict[str, Any]:
    """A whole body that carries an asset's fields at its top level."""
    return {"allOf": [AssetSchema, schema]}


class ResembleBody(Schema):
    """Any of Resemble's JSON bodies."""

    class Meta:
        unknown = INCLUDE  # Resemble's bodies pass through, fields it adds too

    success = fields.Boolean(metadata={"description": "Resemble's success flag"})


class ResemblePage(ResembleBody):
    page = fields.Integer()
    num_pages = fields.Integer()
    page_size = fields.Integer()


class ResembleResult(ResembleBody):
    """An answer without audio (a deletion, a promotion, a detection)."""

    message = fields.String()


# Text-to-speech ----------------------------------------------------------------


class ResembleSynthesis(ResembleBody):
    """Resemble's direct synthesis answer."""

    audio_content = fields.String(
        metadata={
            "description": "The audio, base64 (absent with INDOX_MEDIA_STRIP_INLINE_AUDIO)"
        }
    )
    output_format = fields.String()
    sample_rate = fields.Integer()
    duration = fields.Float()
    synth_duration = fields.Float()
    audio_timestamps = fields.Dict()
    issues = fields.List(fields.Raw())


# Voices and recordings -----------------------------------------------------------


class ResembleVoice(ResembleBody):
    uuid = fields.String()
    name = fields.String()
    status = fields.String()
    sample_url = fields.String(allow_none=True)
    audio_src = fields.String(allow_none=True)
    created_at = fields.String()
    updated_at = fields.String()


class ResembleVoiceAnswer(ResembleBody):
    item = WithAsset(ResembleVoice)


class ResembleVoiceList(ResemblePage):
    items = fields.List(WithAsset(ResembleVoice))


class ResembleRecording(ResembleBody):
    uuid = fields.String()
    name = fields.String()
    text = fields.String()
    emotion = fields.String(allow_none=True)
    fill = fields.Boolean()
    is_active = fields.Boolean()
    audio_src = fields.String(metadata={"description": "Resemble's URL of the audio"})
    created_at = fields.String()
    updated_at = fields.String()


class ResembleRecordingAnswer(ResembleBody):
    item = WithAsset(ResembleRecording)


class ResembleRecordingList(ResemblePage):
    items = fields.List(WithAsset(ResembleRecording))


# Voice design --------------------------------------------------------------------


class ResembleCandidate(ResembleBody):
    """One candidate: audio_url is the mirror's, resemble_url Resemble's."""

    uuid = fields.String()
    voice_sample_index = fields.Integer()


class ResembleCandidates(ResembleBody):
    voice_candidates = fields.List(WithAsset(ResembleCandidate))


class ResemblePromotedVoice(ResembleBody):
    voice_uuid = fields.String()


# Speech-to-text, enhance, edit -----------------------------------------------------


class ResembleTranscript(ResembleBody):
    uuid = fields.String()
    status = fields.String(metadata={"description": "pending, processing, ..."})
    text = fields.String(allow_none=True)
    words = fields.List(fields.Dict(), allow_none=True)
    query = fields.String(allow_none=True)
    answer = fields.String(allow_none=True)
    file_url = fields.String(metadata={"description": "The input audio"})
    duration_seconds = fields.Float(allow_none=True)
    created_at = fields.String()
    updated_at = fields.String()


class ResembleTranscriptAnswer(ResembleBody):
    item = WithAsset(ResembleTranscript)


class ResembleEnhancement(ResembleBody):
    uuid = fields.String()
    status = fields.String(metadata={"description": "pending, processing, ..."})
    enhanced_audio_url = fields.String(
        allow_none=True, metadata={"description": "Resemble's URL, once completed"}
    )
    error_message = fields.String(allow_none=True)


class ResembleEdit(ResembleBody):
    uuid = fields.String()
    voice_uuid = fields.String()
    original_transcript = fields.String()
    target_transcript = fields.String()
    input_audio_url = fields.String()
    result_audio_url = fields.String(
        allow_none=True, metadata={"description": "Resemble's URL, once done"}
    )


class ResembleEditAnswer(ResembleBody):
    item = WithAsset(ResembleEdit)


# Watermark ------------------------------------------------------------------------


class ResembleWatermarking(ResembleBody):
    uuid = fields.String()
    media_type = fields.String(metadata={"description": "audio, image or video"})
    source_media_url = fields.String()
    watermarked_media = fields.String(allow_none=True)
    watermarked_audio = fields.String(
        allow_none=True, metadata={"description": "The older name of the output"}
    )
    metrics = fields.Raw(allow_none=True)
    created_at = fields.String()
    updated_at = fields.String()


class ResembleWatermarkingAnswer(ResembleBody):
    item = WithAsset(ResembleWatermarking)


class ResembleDetection(ResembleBody):
    uuid = fields.String()
    metrics = fields.Raw(
        allow_none=True, metadata={"description": "Null until the detection is done"}
    )


class ResembleDetectionAnswer(ResembleBody):
    item = fields.Nested(ResembleDetection)


# Project clips and callbacks ---------------------------------------------------------


class ResembleClip(ResembleBody):
    uuid = fields.String()
    title = fields.String(allow_none=True)
    body = fields.String()
    voice_uuid = fields.String()
    is_archived = fields.Boolean()
    audio_src = fields.String(metadata={"description": "Resemble's URL of the audio"})
    raw_audio = fields.String(metadata={"description": "Inline base64 (raw=true)"})
    created_at = fields.String()
    updated_at = fields.String()


class ResembleClipAnswer(ResembleBody):
    item = WithAsset(ResembleClip)


class ResembleClipList(ResemblePage):
    items = fields.List(WithAsset(ResembleClip))


class ResembleClipCallback(ResembleBody):
    """Resemble's callback for a clip, its url mirrored."""

    id = fields.String()
    project_id = fields.String()
    url = fields.String(metadata={"description": "Resemble's URL (valid 1 hour)"})
    audio_timestamps = fields.Dict()
    issues = fields.List(fields.Raw())


class ResembleBatchCallback(ResembleBody):
    """Resemble's callback for a batch, each clip's audio mirrored."""

    uuid = fields.String()
    clips = fields.List(WithAsset(ResembleClip))


#: The callback route's answer: the payload forwarded to the caller.
CALLBACK_PAYLOAD: dict[str, Any] = {
    "anyOf": [with_asset(ResembleClipCallback), ResembleBatchCallback, ResembleBody]
}
