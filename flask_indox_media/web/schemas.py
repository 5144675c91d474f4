"""Request schemas of the gateway's routes. Unknown fields pass through to
Resemble: it may accept options this table does not name."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate


class Open(Schema):
    class Meta:
        unknown = INCLUDE  # Resemble's further options pass through


class PageArgs(Open):
    page = fields.Integer(validate=validate.Range(min=1))
    page_size = fields.Integer(validate=validate.Range(min=1, max=1000))


class SynthesizeArgs(Open):
    voice_uuid = fields.String(required=True)
    text = fields.String(required=True, validate=validate.Length(min=1))
    output_format = fields.String(
        load_default="mp3", validate=validate.OneOf(["mp3", "wav"])
    )


class FieldsArgs(Open):
    fields_ = fields.Dict(data_key="fields", attribute="fields", load_default=dict)


class VoiceArgs(Open):
    name = fields.String(required=True)


class DesignArgs(Open):
    description = fields.String(required=True)
    sample_text = fields.String()
    params = fields.Dict()


class PromoteArgs(Open):
    candidate_index = fields.Integer(required=True, validate=validate.Range(min=0))
    name = fields.String(required=True)


class AudioArgs(Open):
    audio_url = fields.String(required=True)


class SttArgs(AudioArgs):
    language = fields.String()
    callback_uri = fields.String()


class EditArgs(AudioArgs):
    original_transcript = fields.String()
    target_transcript = fields.String()
    voice_uuid = fields.String()


class StreamArgs(Open):
    voice_uuid = fields.String(required=True)
    text = fields.String(required=True, validate=validate.Length(min=1))
    project_uuid = fields.String()
    precision = fields.String(
        load_default="PCM_16", validate=validate.OneOf(["PCM_16", "PCM_32", "MULAW"])
    )
    sample_rate = fields.Integer(validate=validate.Range(min=8000, max=48000))
