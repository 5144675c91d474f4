"""Signed tokens: asset ids, local-backend URLs and callback URLs. Those issued
before 0.2 (a bare HMAC) keep verifying, keys rotate, and garbage of any kind is
refused cleanly (never a 500)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous import Signer

from flask_indox_media.assets import Asset, AssetIds
from flask_indox_media.exceptions import InvalidTokenError
from flask_indox_media.keys import AssetClassTable, new_key
from flask_indox_media.playback import PlaybackLinks
from flask_indox_media.storage.local import LocalBackend
from flask_indox_media.tokens import ASSET_ID, TokenSigner

from .conftest import ALICE

P = "/api/v1/resemble"
OLD = b"the-old-secret"


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def legacy_sign(secret: bytes, purpose: str, message: str) -> str:
    """The signature every token carried before 0.2 (flask_indox_media.signing)."""
    digest = hmac.new(secret, f"{purpose}\0{message}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:20]).decode().rstrip("=")


def legacy_asset_id(secret: bytes, user: str, payload: str) -> str:
    return f"ast_{b64(payload)}.{legacy_sign(secret, 'asset-id', f'{user}|{payload}')}"


CLASSES = AssetClassTable()
KEY = "tts/alice/2026/05/01/101500-req_abc.mp3"


def test_signer_purposes_do_not_cross() -> None:
    a, b = TokenSigner([OLD], "asset-id"), TokenSigner([OLD], "callback")
    assert a.verify("m", a.sign("m")) and not b.verify("m", a.sign("m"))


def test_rotation_old_keys_verify_the_newest_signs() -> None:
    old = TokenSigner([b"k1"], ASSET_ID)
    rotated = TokenSigner([b"k1", b"k2"], ASSET_ID)
    assert rotated.verify("m", old.sign("m"))
    assert rotated.sign("m") == TokenSigner([b"k2"], ASSET_ID).sign("m")
    assert not TokenSigner([b"k2"], ASSET_ID).verify("m", old.sign("m"))


def test_an_asset_id_from_before_0_2_still_resolves() -> None:
    legacy = legacy_asset_id(OLD, "alice", "local|tts|20260501101500|req_abc|mp3")
    asset = AssetIds([OLD], CLASSES).decode(legacy, "alice")
    assert asset == Asset(CLASSES.parse(KEY), "local")
    # ...and after a rotation, with the old key among the fallbacks.
    assert AssetIds([OLD, b"new"], CLASSES).decode(legacy, "alice") == asset
    with pytest.raises(InvalidTokenError):
        AssetIds([b"new"], CLASSES).decode(legacy, "alice")
    with pytest.raises(InvalidTokenError):
        AssetIds([OLD], CLASSES).decode(legacy, "bob")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.binary(min_size=1, max_size=64), min_size=1, max_size=3),
    st.sampled_from(["asset-id", "local-url", "callback", "playback"]),
    st.text(),
)
def test_signatures_are_itsdangerous_byte_for_byte(
    keys: list[bytes], purpose: str, message: str
) -> None:
    # The signer derives its key once; what it makes must stay what
    # itsdangerous makes, so every token issued since 0.2 keeps verifying.
    reference = Signer(
        keys,
        salt=f"flask-indox-media.{purpose}",
        key_derivation="hmac",
        digest_method=hashlib.sha256,
    )
    signer = TokenSigner(keys, purpose)
    signature = signer.sign(message)
    assert signature == reference.get_signature(message.encode()).decode()
    assert signer.verify(message, signature)


def test_new_asset_ids_are_versioned_and_survive_rotation() -> None:
    asset = Asset(CLASSES.parse(KEY), "r2")
    issued = AssetIds([OLD], CLASSES).encode(asset)
    assert issued.startswith("ast_1.")
    assert AssetIds([OLD, b"new"], CLASSES).decode(issued, "alice") == asset
    with pytest.raises(InvalidTokenError):
        AssetIds([OLD], CLASSES).decode(issued, "bob")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_garbled_asset_ids_are_invalid_never_a_crash(value: str) -> None:
    with pytest.raises(InvalidTokenError):
        AssetIds([OLD], CLASSES).decode(value, "alice")
    with pytest.raises(InvalidTokenError):
        AssetIds([OLD], CLASSES).decode("ast_" + value, "alice")
    with pytest.raises(InvalidTokenError):
        AssetIds([OLD], CLASSES).decode("ast_1." + value, "alice")


def test_a_local_url_from_before_0_2_still_serves(
    make_gateway: Callable[..., Flask],
) -> None:
    app = make_gateway({"SECRET_KEY": "new", "SECRET_KEY_FALLBACKS": ["old"]})
    backend = app.extensions["indox_media"].catalog.primary
    assert isinstance(backend, LocalBackend)
    with app.app_context():
        backend.put(KEY, io.BytesIO(b"ID3xyz"), content_type="audio/mpeg")
    expires = 4_102_444_800  # 2100
    message = f"{KEY}\n{expires}\n\n"
    legacy = legacy_sign(b"old", "local-url", message)
    client = app.test_client()
    url = f"/indox-media/local/{quote(KEY)}?expires={expires}&signature={legacy}"
    with client.get(url) as response:
        assert response.data == b"ID3xyz"
    forged = legacy_sign(b"someone-else", "local-url", message)
    assert client.get(url.replace(legacy, forged)).status_code == 403
    for garbage in ("ü", "1.ü", "1.", "", legacy + "ü", "x" * 500):
        response = client.get(
            f"/indox-media/local/{quote(KEY)}",
            query_string={"expires": str(expires), "signature": garbage},
        )
        assert response.status_code == 403 and response.is_json


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80), st.integers())
def test_garbled_local_signatures_never_verify(signature: str, expires: int) -> None:
    backend = LocalBackend("local", root="/nonexistent", keys=[OLD])
    args = {"expires": str(expires), "signature": signature}
    assert backend.check_signature(KEY, args, datetime(2026, 1, 1, tzinfo=UTC)) is False


def test_callback_tokens_old_and_new(
    make_gateway: Callable[..., Flask], fake: Any
) -> None:
    app = make_gateway({"SECRET_KEY": "new", "SECRET_KEY_FALLBACKS": ["old"]})
    client = app.test_client()
    message = json.dumps(
        ["alice", "https://example.com/cb", "clip_callback"], separators=(",", ":")
    )
    legacy = f"{b64(message)}.{legacy_sign(b'old', 'callback', message)}"
    payload = {"id": "c1", "url": "not-a-url", "issues": []}
    assert client.post(f"{P}/callbacks/{legacy}", json=payload).status_code == 200
    forged = f"{b64(message)}.{legacy_sign(b'other', 'callback', message)}"
    assert client.post(f"{P}/callbacks/{forged}", json=payload).status_code == 404
    for garbage in ("ü", "1.ü.ü", "1." + b64(message) + ".ü", "x" * 300, "."):
        response = client.post(f"{P}/callbacks/{quote(garbage)}", json=payload)
        assert response.status_code == 404 and response.is_json


def test_media_routes_answer_404_to_garbled_ids(gateway: Flask) -> None:
    client = gateway.test_client()
    for garbage in ("ast_ü", "ast_1.ü.ü", "ast_1..", "ast_", "zzz", "ast_1.e30.sig"):
        response = client.get(f"{P}/media/{quote(garbage)}", headers=ALICE)
        assert response.status_code == 404 and response.is_json


@settings(max_examples=100, deadline=None)
@given(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}", fullmatch=True).filter(
        lambda s: ".." not in s
    ),
    st.sampled_from(sorted(CLASSES)),
    st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2090, 1, 1)),
)
def test_playback_tokens_hold_the_json_they_always_held(
    user: str, class_name: str, now: datetime
) -> None:
    ids = AssetIds([OLD], CLASSES)
    links = PlaybackLinks([OLD], ids, ttl=3600)
    now = now.replace(tzinfo=UTC)
    asset = Asset(new_key(CLASSES[class_name], user, "wav", now=now), "r2")
    token = links.token(asset, now)
    body, _, signature = token.removeprefix("1.").partition(".")
    until = asset.expires_at or now + timedelta(seconds=3600)
    message = json.dumps(
        [user, ids.encode(asset), int(until.timestamp())], separators=(",", ":")
    )
    assert base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode() == message
    assert TokenSigner([OLD], "playback").verify(message, signature)
    assert links.read(token, now) == asset
