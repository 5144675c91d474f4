"""Finding audio in Resemble's JSON and rewriting around it."""

from __future__ import annotations

import base64
import json

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st

from flask_indox_media.endpoints import ENDPOINTS
from flask_indox_media.mirror import rewrite as rewrite_module
from flask_indox_media.mirror.detect import decode_inline, extract, may_carry_audio
from flask_indox_media.testing import mp3_bytes, wav_bytes

WAV64 = base64.b64encode(wav_bytes(0.1)).decode()


_CASES = pytest.mark.parametrize(
    ("kind", "payload", "paths", "asset_class"),
    [
        ("tts", {"audio_content": WAV64, "duration": 1}, ["audio_content"], "tts"),
        (
            "clip",
            {"item": {"uuid": "c", "audio_src": "https://a/x.wav"}},
            ["item.audio_src"],
            "tts",
        ),
        (
            "clip",
            {
                "items": [
                    {"audio_src": "https://a/1.wav"},
                    {"audio_src": None},
                    {"audio_src": "https://a/3.wav"},
                ]
            },
            ["items.0.audio_src", "items.2.audio_src"],
            "tts",
        ),
        ("clip_callback", {"id": "c", "url": "https://a/x.wav"}, ["url"], "tts"),
        (
            "batch",
            {"clips": [{"audio_src": "https://a/1.wav"}]},
            ["clips.0.audio_src"],
            "tts",
        ),
        (
            "recording",
            {"item": {"audio_src": "https://a/r.wav"}},
            ["item.audio_src"],
            "voice_recordings",
        ),
        (
            "voice_design",
            {
                "voice_candidates": [
                    {"audio_url": "https://a/0.wav", "uuid": "v"},
                    {"audio_url": "https://a/1.wav", "uuid": "v"},
                ]
            },
            ["voice_candidates.0.audio_url", "voice_candidates.1.audio_url"],
            "voice_design",
        ),
        (
            "voice_design",
            {
                "voice_candidates": {
                    "voice_design_model_uuid": "v",
                    "samples": [{"audio_url": "https://a/0.wav"}],
                }
            },
            ["voice_candidates.samples.0.audio_url"],
            "voice_design",
        ),
        (
            "stt",
            {"item": {"file_url": "https://a/in.wav", "status": "pending"}},
            ["item.file_url"],
            "stt_input",
        ),
        (
            "enhance",
            {
                "uuid": "e",
                "status": "completed",
                "enhanced_audio_url": "https://a/e.wav",
            },
            ["enhanced_audio_url"],
            "audio_jobs",
        ),
        (
            "edit",
            {"item": {"uuid": "e", "result_audio_url": "https://a/e.wav"}},
            ["item.result_audio_url"],
            "audio_jobs",
        ),
        (
            "watermark",
            {"item": {"watermarked_media": "https://a/w.wav"}},
            ["item.watermarked_media"],
            "watermark",
        ),
        (
            "watermark",
            {"item": {"watermarked_audio": "https://a/w.wav"}},
            ["item.watermarked_audio"],
            "watermark",
        ),
    ],
)


@_CASES
def test_extract(
    kind: str, payload: object, paths: list[str], asset_class: str
) -> None:
    found = extract(payload, kind)
    assert [f.path for f in found] == paths
    assert {f.rule.asset_class for f in found} == {asset_class}


@_CASES
def test_the_cheap_scan_lets_every_audio_through(
    kind: str, payload: object, paths: list[str], asset_class: str
) -> None:
    for body in (
        json.dumps(payload).encode(),
        json.dumps(payload, ensure_ascii=False, indent=2).encode(),
        json.dumps(payload).encode("utf-16"),
    ):
        assert may_carry_audio(body, kind)


_FIELD_NAMES = sorted(
    {rule.path[-1] for e in ENDPOINTS.values() for rule in e.rules} | {"name", "é"}
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(_FIELD_NAMES + ["item", "items"]), inner)
    ),
    max_leaves=12,
)
_URLS = st.sampled_from(["https://a/x.wav", WAV64, "ü"])


@given(
    st.sampled_from(sorted(ENDPOINTS)),
    st.dictionaries(st.sampled_from(_FIELD_NAMES + ["item", "items"]), _JSON | _URLS),
    st.booleans(),
)
def test_whatever_the_scan_skips_holds_no_audio(
    kind: str, payload: dict[str, object], ascii_only: bool
) -> None:
    body = json.dumps(payload, ensure_ascii=ascii_only).encode()
    if not may_carry_audio(body, kind):
        assert extract(json.loads(body), kind) == []


def test_an_escaped_field_name_is_still_found() -> None:
    body = b'{"item": {"audio\\u005fsrc": "https://a/x.wav"}}'
    assert may_carry_audio(body, "clip")
    assert [f.path for f in extract(json.loads(body), "clip")] == ["item.audio_src"]


def test_an_answer_without_audio_is_never_parsed(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    def parse(_: object) -> None:
        raise AssertionError("parsed")

    monkeypatch.setattr(rewrite_module.json, "loads", parse)
    body = json.dumps({"items": [{"uuid": "v", "name": "x"}] * 20}).encode()
    state = app.extensions["indox_media"]
    assert rewrite_module.rewrite(state, body, "voice", "alice") is None
    assert not may_carry_audio(body, "voice")
    with pytest.raises(AssertionError, match="parsed"):
        rewrite_module.rewrite(
            state, body.replace(b"name", b"audio_src"), "voice", "alice"
        )


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("enhance", {"uuid": "e", "status": "processing", "enhanced_audio_url": None}),
        ("edit", {"item": {"uuid": "e"}}),
        (
            "tts",
            {"audio_content": base64.b64encode(b"%PDF-1.4 not audio at all").decode()},
        ),
        ("tts", {"audio_content": "not base64 !!"}),
        ("clip", {"item": {"audio_src": "file:///etc/passwd"}}),
        ("clip", {"item": {"audio_src": 42}}),
        ("clip", [1, 2, {"item": None}]),
        ("stt", {"item": {"text": "hello"}}),
        ("unknown-kind", {"item": {"audio_src": "https://a/x.wav"}}),
        (
            "watermark",
            {
                "item": {
                    "source_media_url": "https://a/in.wav",
                    "watermarked_media": None,
                }
            },
        ),
    ],
)
def test_nothing_to_mirror(kind: str, payload: object) -> None:
    assert extract(payload, kind) == []


def test_one_asset_per_object() -> None:
    payload = {
        "item": {
            "watermarked_media": "https://a/w.wav",
            "watermarked_audio": "https://a/w2.wav",
        }
    }
    assert len(extract(payload, "watermark")) == 1


def test_identity_survives_a_changing_signature() -> None:
    first = extract(
        {"uuid": "e1", "enhanced_audio_url": "https://a/e.wav?sig=1"}, "enhance"
    )[0]
    second = extract(
        {"uuid": "e1", "enhanced_audio_url": "https://a/e.wav?sig=2"}, "enhance"
    )[0]
    other = extract(
        {"uuid": "e2", "enhanced_audio_url": "https://a/e.wav?sig=1"}, "enhance"
    )[0]
    assert first.identity("u", None) == second.identity("u", None)
    assert first.identity("u", None) != other.identity("u", None)
    assert first.identity("u", None) != first.identity("v", None)  # per user
    # Candidates share the design uuid: their index tells them apart.
    a, b = extract(
        {
            "voice_candidates": [
                {"audio_url": "https://a/0.wav", "uuid": "v", "voice_sample_index": 0},
                {"audio_url": "https://a/1.wav", "uuid": "v", "voice_sample_index": 1},
            ]
        },
        "voice_design",
    )
    assert a.identity("u", None) != b.identity("u", None)


def test_identity_falls_back_to_the_polled_id_then_the_url() -> None:
    found = extract({"item": {"result_audio_url": "https://a/e.wav?sig=1"}}, "edit")[0]
    assert found.identity("u", "job-1") != found.identity("u", "job-2")
    same_url = extract({"item": {"result_audio_url": "https://a/e.wav?sig=2"}}, "edit")[
        0
    ]
    assert found.identity("u", None) == same_url.identity("u", None)


def test_inline_audio_is_decoded_and_recognised() -> None:
    decoded = decode_inline(base64.b64encode(mp3_bytes(0.2)).decode())
    assert decoded is not None and decoded[1].content_type == "audio/mpeg"
    found = extract({"audio_content": WAV64}, "tts")[0]
    assert found.identity("u", "x") is None  # every synthesis is new
    assert found.media_type is not None and found.media_type.extension == "wav"
    assert json.dumps(found.container)  # still JSON
