"""Request schemas of the gateway's routes. Unknown fields pass through to
Resemble: it may accept options this table does not name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from marshmallow import INCLUDE, Schema, ValidationError, fields, pre_load, validate


def audio_source(value: str) -> None:
    """Validate an ``audio_url``: an ``asset_id`` or a URL that parses. A
    malformed one (``http://[::1``) is refused here, before the storage
    backends are asked whether it is theirs."""
    try:
        urlsplit(value)
    except ValueError:
        raise ValidationError("not a URL or an asset_id") from None


def _is_utf8(value: Any) -> bool:
    """Whether every string in ``value`` (keys too, at any depth) encodes as
    UTF-8; walked without recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode()
            except UnicodeEncodeError:
                return False
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


class Open(Schema):
    class Meta:
        unknown = INCLUDE  # Resemble's further options pass through

    @pre_load
    def _utf8_only(self, data: Any, **kwargs: Any) -> Any:
        # JSON may escape a lone surrogate ("\ud800"); such text cannot be
        # sent on as UTF-8 (a form field, a multipart part), so it is refused.
        if isinstance(data, Mapping):
            bad = {
                str(key).encode(errors="replace").decode(): [
                    "not valid Unicode text (a lone surrogate)"
                ]
                for key, value in data.items()
                if not _is_utf8(key) or not _is_utf8(value)
            }
            if bad:
                raise ValidationError(bad)
        return data


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


class ClipArgs(Open):
    """A clip's fields, flat or wrapped in ``fields`` (an object, if given)."""

    fields_ = fields.Dict(data_key="fields", attribute="fields")


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
    audio_url = fields.String(required=True, validate=audio_source)


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
