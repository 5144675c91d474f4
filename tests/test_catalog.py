"""The asset catalog and the claims, as units: one listing of a user's objects,
one description of an asset, one key per upstream asset."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis import Redis

from flask_indox_media.assets import ASSET_SCHEMA, AssetIds, dump_asset
from flask_indox_media.catalog import AssetCatalog
from flask_indox_media.exceptions import InvalidKeyPartError, InvalidTokenError
from flask_indox_media.keys import AssetClassTable
from flask_indox_media.mirror.claims import MemoryClaims, RedisClaims
from flask_indox_media.storage.local import LocalBackend
from flask_indox_media.testing.counting import redis_round_trips

NOW = datetime(2026, 5, 1, 10, 15, tzinfo=UTC)


def catalog(tmp_path: Path) -> AssetCatalog:
    classes = AssetClassTable()
    backends = {
        name: LocalBackend(name, root=str(tmp_path / name), keys=[b"k"])
        for name in ("local", "old")
    }
    return AssetCatalog(
        backends,
        "local",
        classes,
        AssetIds([b"k"], classes),
        presign_ttl=60,
        clock=lambda: NOW,
    )


def test_store_describe_resolve(tmp_path: Path) -> None:
    cat = catalog(tmp_path)
    asset, size = cat.store(
        "uploads",
        "alice",
        io.BytesIO(b"RIFFxxxxWAVE"),
        content_type="audio/wav",
        extension="wav",
    )
    assert size == 12 and asset.key.startswith("uploads/alice/2026/05/01/101500-")
    described = cat.describe_stored(asset, *cat.locate(asset))  # type: ignore[misc]
    assert described["expires_at"] == "2026-05-31T10:15:00Z"
    assert described["content_type"] == "audio/wav" and described["size_bytes"] == 12
    assert cat.resolve(described["asset_id"], "alice") == asset
    with pytest.raises(InvalidTokenError):
        cat.resolve(described["asset_id"], "bob")


def test_iter_user_assets_lists_every_backend_and_class(tmp_path: Path) -> None:
    cat = catalog(tmp_path)
    mine = cat.new("tts", "alice", "mp3")
    cat.write(mine, io.BytesIO(b"ID3"), content_type="audio/mpeg")
    older = cat.new("voices", "alice", "wav").key
    cat.backends["old"].put(older, io.BytesIO(b"RIFF"), content_type="audio/wav")
    cat.backends["old"].put(
        "uploads/alice/stray.bin", io.BytesIO(b"?"), content_type="x/y"
    )
    cat.store(
        "tts", "bob", io.BytesIO(b"ID3"), content_type="audio/mpeg", extension="mp3"
    )
    found = list(cat.iter_user_assets("alice"))
    assert {(f.backend, f.info.key) for f in found} == {
        ("local", mine.key),
        ("old", older),
        ("old", "uploads/alice/stray.bin"),
    }
    stray = next(f for f in found if f.info.key.endswith("stray.bin"))
    assert stray.asset is None  # the user's all the same: erasure deletes it
    only = list(
        cat.iter_user_assets("alice", backends=["local"], classes=[cat.classes["tts"]])
    )
    assert [f.info.key for f in only] == [mine.key]
    with pytest.raises(InvalidKeyPartError):
        list(cat.iter_user_assets("../bob"))


def test_a_listing_gives_the_content_type_from_the_key(tmp_path: Path) -> None:
    cat = catalog(tmp_path)
    asset, _ = cat.store(
        "tts", "alice", io.BytesIO(b"ID3"), content_type="audio/mpeg", extension="mp3"
    )
    listed = next(iter(cat.iter_user_assets("alice")))
    described = cat.describe_stored(asset, cat.primary, listed.info)
    assert described["content_type"] == "audio/mpeg"


def test_memory_claims_first_value_wins() -> None:
    claims = MemoryClaims()
    assert claims.claim([("a", "one", None), ("b", "two", None)]) == [
        ("one", True),
        ("two", True),
    ]
    assert claims.claim([("a", "three", None)]) == [("one", False)]


def test_redis_claims_first_value_wins(redis_db: str) -> None:
    redis = Redis.from_url(redis_db)
    claims = RedisClaims(redis)
    assert claims.claim([("a", "one", 60), ("b", "two", None)]) == [
        ("one", True),
        ("two", True),
    ]
    assert claims.claim([("a", "three", 60), ("c", "four", 60)]) == [
        ("one", False),
        ("four", True),
    ]
    assert 0 < redis.ttl("indox-media:asset:a") <= 60
    redis.close()


_TEXT = st.none() | st.text(max_size=20)
_MOMENT = st.none() | st.text(max_size=5) | st.datetimes(timezones=st.timezones())
#: Values of the kinds each field is given, or absent.
_ASSET_VALUES = st.fixed_dictionaries(
    {},
    optional={
        **{
            name: _TEXT
            for name in ASSET_SCHEMA.dump_fields
            if name not in {"size_bytes", "expires_at", "created_at"}
        },
        "size_bytes": st.none() | st.integers(),
        "expires_at": _MOMENT,
        "created_at": _MOMENT,
    },
)


@given(_ASSET_VALUES)
def test_the_hand_written_dump_is_the_schemas(values: dict[str, object]) -> None:
    """The response hook dumps an asset's fields without marshmallow: the
    same dict, in the same order, for any asset's values."""
    dumped = dump_asset(values)
    assert dumped == ASSET_SCHEMA.dump(values)
    assert list(dumped) == list(ASSET_SCHEMA.dump(values))


def test_described_fields_keep_their_schema(tmp_path: Path) -> None:
    cat = catalog(tmp_path)
    cat.playback = None
    asset = cat.new("tts", "alice", "wav")
    described = cat.describe(asset, resemble_url="https://r/x.wav", mirror_status="x")
    assert described == ASSET_SCHEMA.dump(
        {
            "asset_id": cat.asset_id(asset),
            "asset_class": "tts",
            "audio_url": cat.presign(asset),
            "expires_at": asset.expires_at,
            "resemble_url": "https://r/x.wav",
            "playback_url": None,
            "mirror_status": "x",
        }
    )


def test_redis_claims_answer_new_and_seen_in_one_round_trip(redis_db: str) -> None:
    redis = Redis.from_url(redis_db)
    claims = RedisClaims(redis)
    claims.claim([("warm", "x", 60)])  # connects
    with redis_round_trips() as trips:
        got = claims.claim([("a", "one", 60), ("b", "two", 60)], "alice")
    assert got == [("one", True), ("two", True)] and trips[0] == 1
    with redis_round_trips() as trips:
        got = claims.claim([("a", "three", 60), ("c", "four", 60)], "alice")
    assert got == [("one", False), ("four", True)] and trips[0] == 1
    redis.close()


def test_redis_claims_list_each_claim_under_its_user_until_it_expires(
    redis_db: str,
) -> None:
    redis = Redis.from_url(redis_db)
    claims = RedisClaims(redis)
    index = "indox-media:user-claims:alice"
    redis.zadd(index, {"indox-media:asset:gone": 1.0})  # expired long ago
    claims.claim([("a", "one", 60), ("p", "two", None)], "alice")
    claims.claim([("a", "three", 60)], "alice")  # taken: listed once
    listed = dict(redis.zrange(index, 0, -1, withscores=True))
    assert set(listed) == {b"indox-media:asset:a", b"indox-media:asset:p"}
    assert listed[b"indox-media:asset:p"] == float("inf")
    assert 0 < listed[b"indox-media:asset:a"] - time.time() <= 60
    assert redis.ttl("indox-media:asset:p") == -1
    assert claims.forget("alice") == 2 and not redis.exists(index)
    redis.close()
