from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flask_indox_media.exceptions import ConfigurationError, InvalidKeyPartError
from flask_indox_media.keys import (
    DEFAULT_CLASSES,
    AssetClassTable,
    build_key,
    isoformat_z,
    new_key,
    validate_user_id,
)

TABLE = AssetClassTable()
NOW = datetime(2026, 5, 1, 10, 15, 0, tzinfo=UTC)

user_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,40}", fullmatch=True).filter(
    lambda s: ".." not in s
)
request_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,40}", fullmatch=True)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2099, 12, 31),
    timezones=st.just(UTC),
)


def test_the_brief_table() -> None:
    assert {n: (c.prefix, c.retention_days) for n, c in TABLE.items()} == {
        "tts": ("tts/", 7),
        "audio_jobs": ("audio-jobs/", 7),
        "watermark": ("watermark/", 7),
        "voice_design": ("voice-design/", 14),
        "stt_input": ("stt-input/", 30),
        "uploads": ("uploads/", 30),
        "voice_recordings": ("voice-recordings/", None),
        "voices": ("voices/", None),
    }


def test_example_key_and_expiry() -> None:
    key = build_key(TABLE["tts"], "42", "mp3", now=NOW, request_id="req_7f3a")
    assert key == "tts/42/2026/05/01/101500-req_7f3a.mp3"
    assert isoformat_z(TABLE.parse(key).expires_at) == "2026-05-08T10:15:00Z"
    permanent = build_key(TABLE["voices"], "42", "wav", now=NOW, request_id="r")
    assert TABLE.parse(permanent).expires_at is None


def test_key_is_in_utc() -> None:
    other_zone = NOW.astimezone(__import__("datetime").timezone(timedelta(hours=-7)))
    key = build_key(TABLE["tts"], "u", "wav", now=other_zone, request_id="r")
    assert key == "tts/u/2026/05/01/101500-r.wav"


@given(
    name=st.sampled_from(sorted(DEFAULT_CLASSES)),
    user=user_ids,
    rid=st.none() | request_ids,
    ext=st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True),
    now=st.datetimes(
        min_value=datetime(2000, 1, 2),
        max_value=datetime(2099, 12, 30),
        timezones=st.timezones(),
    ),
)
def test_a_new_key_holds_what_parsing_it_gives(
    name: str, user: str, rid: str | None, ext: str, now: datetime
) -> None:
    # The catalog takes a new key's parts as built, never parsing them back.
    made = new_key(TABLE[name], user, ext, now=now, request_id=rid)
    assert made == TABLE.parse(made.key)
    assert made.created_at.utcoffset() == timedelta(0)


def test_request_id_is_generated() -> None:
    a = build_key(TABLE["tts"], "u", "wav", now=NOW)
    b = build_key(TABLE["tts"], "u", "wav", now=NOW)
    assert a != b
    assert re.fullmatch(r"tts/u/2026/05/01/101500-req_[0-9a-f]{20}\.wav", a)


@given(
    name=st.sampled_from(sorted(DEFAULT_CLASSES)),
    user=user_ids,
    rid=request_ids,
    ext=st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True),
    now=moments,
)
def test_keys_round_trip_and_stay_in_their_prefix(
    name: str, user: str, rid: str, ext: str, now: datetime
) -> None:
    asset_class = TABLE[name]
    key = build_key(asset_class, user, ext, now=now, request_id=rid)
    assert key.startswith(f"{asset_class.prefix}{user}/")
    assert key == (
        f"{asset_class.prefix}{user}/{now:%Y}/{now:%m}/{now:%d}/{now:%H%M%S}-{rid}.{ext}"
    )
    parsed = TABLE.parse(key)
    assert (
        parsed.asset_class,
        parsed.user_id,
        parsed.request_id,
        parsed.extension,
    ) == (
        asset_class,
        user,
        rid,
        ext,
    )
    assert parsed.created_at == now.replace(microsecond=0)
    expires = parsed.expires_at
    if asset_class.retention_days is None:
        assert expires is None
    else:
        assert expires == now.replace(microsecond=0) + timedelta(
            days=asset_class.retention_days
        )
        assert isoformat_z(expires).endswith("Z")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "user",
    [
        "",
        "a/b",
        "..",
        "a..b",
        "../etc",
        ".hidden",
        "a\x00b",
        "a\nb",
        "é",
        "a b",
        "x" * 129,
        42,
    ],
)
def test_bad_user_ids_are_refused(user: object) -> None:
    with pytest.raises(InvalidKeyPartError):
        build_key(TABLE["tts"], user, "wav", now=NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize("rid", ["", "a/b", "a.b", "..", "a\tb", "r" * 65])
def test_bad_request_ids_are_refused(rid: str) -> None:
    with pytest.raises(InvalidKeyPartError):
        build_key(TABLE["tts"], "u", "wav", now=NOW, request_id=rid)


@pytest.mark.parametrize("ext", ["", "WAV", "w.v", "toolongext", "../x"])
def test_bad_extensions_are_refused(ext: str) -> None:
    with pytest.raises(InvalidKeyPartError):
        build_key(TABLE["tts"], "u", ext, now=NOW)


@given(st.text(max_size=60))
def test_any_text_is_either_refused_or_safe(text: str) -> None:
    try:
        validate_user_id(text)
    except InvalidKeyPartError:
        return
    assert (
        "/" not in text and ".." not in text and text.isascii() and text.isprintable()
    )


def test_naive_time_is_refused() -> None:
    with pytest.raises(InvalidKeyPartError):
        build_key(TABLE["tts"], "u", "wav", now=datetime(2026, 1, 1))


@given(st.from_regex(r"\d{14}", fullmatch=True))
def test_a_keys_time_reads_as_strptime_reads_it(digits: str) -> None:
    """Any 14 digits (invalid dates too) in a key's time; digits of other
    scripts than ASCII are refused (keys are built with ASCII ones)."""
    y, m, d, t = digits[:4], digits[4:6], digits[6:8], digits[8:]
    key = f"tts/u/{y}/{m}/{d}/{t}-r.wav"
    if not digits.isascii():
        with pytest.raises(InvalidKeyPartError):
            TABLE.parse(key)
        return
    try:
        expected = datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        with pytest.raises(InvalidKeyPartError):
            TABLE.parse(key)
    else:
        assert TABLE.parse(key).created_at == expected


@pytest.mark.parametrize(
    "key",
    [
        "tts/u/2026/05/01/101500.wav",
        "nope/u/2026/05/01/101500-r.wav",
        "tts/u/2026/13/01/101500-r.wav",
    ],
)
def test_parse_refuses_other_shapes(key: str) -> None:
    with pytest.raises(InvalidKeyPartError):
        TABLE.parse(key)


def test_overrides() -> None:
    table = AssetClassTable({"tts": "speech/"}, {"tts": 3, "uploads": None})
    assert table["tts"].prefix == "speech/" and table["tts"].retention_days == 3
    assert table["uploads"].permanent


@pytest.mark.parametrize(
    ("prefixes", "retention", "key"),
    [
        ({"tts": "tts"}, {}, "INDOX_MEDIA_PREFIXES"),
        ({"tts": "voices/"}, {}, "INDOX_MEDIA_PREFIXES"),
        ({"tts": "voices/x/"}, {}, "INDOX_MEDIA_PREFIXES"),
        ({"nope": "x/"}, {}, "INDOX_MEDIA_PREFIXES"),
        ({}, {"tts": 0}, "INDOX_MEDIA_RETENTION"),
        ({}, {"tts": "7"}, "INDOX_MEDIA_RETENTION"),
    ],
)
def test_bad_overrides_name_their_key(
    prefixes: dict[str, str], retention: dict[str, object], key: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        AssetClassTable(prefixes, retention)  # type: ignore[arg-type]
    assert info.value.key == key


def test_a_parsed_key_is_remembered_and_a_bad_one_never() -> None:
    table = AssetClassTable()
    key = build_key(table["tts"], "alice", "wav", now=datetime(2026, 1, 2, tzinfo=UTC))
    assert table.parse(key) is table.parse(key)  # parsed once, then remembered
    for _ in range(2):
        with pytest.raises(InvalidKeyPartError):
            table.parse("tts/alice/not-a-key.wav")
