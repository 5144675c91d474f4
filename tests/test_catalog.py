"""The asset catalog and the claims, as units: one listing of a user's objects,
one description of an asset, one key per upstream asset."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis import Redis

from flask_indox_media.assets import AssetIds
from flask_indox_media.catalog import AssetCatalog
from flask_indox_media.exceptions import InvalidKeyPartError, InvalidTokenError
from flask_indox_media.keys import AssetClassTable
from flask_indox_media.mirror.claims import MemoryClaims, RedisClaims
from flask_indox_media.storage.local import LocalBackend

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


def test_redis_claims_first_value_wins_in_one_pipeline(redis_db: str) -> None:
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
