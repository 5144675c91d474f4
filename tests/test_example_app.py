from __future__ import annotations

from pathlib import Path

import pytest

from example_app import api_key_from_request, create_app


@pytest.fixture
def config(tmp_path: Path) -> dict[str, object]:
    return {"INDOX_MEDIA_LOCAL_ROOT": str(tmp_path), "API_KEYS": {"k-1": "alice"}}


def test_env_is_read_and_the_dict_wins(
    monkeypatch: pytest.MonkeyPatch, config: dict[str, object]
) -> None:
    monkeypatch.setenv("INDOX_MEDIA_PRESIGN_TTL", "120")
    monkeypatch.setenv("INDOX_MEDIA_QUEUE", "from-env")
    app = create_app({**config, "INDOX_MEDIA_QUEUE": "from-dict"})
    settings = app.extensions["indox_media"].settings
    assert settings.presign_ttl == 120
    assert settings.queue == "from-dict"


def test_storage_backend_env(
    monkeypatch: pytest.MonkeyPatch, config: dict[str, object]
) -> None:
    monkeypatch.setenv("STORAGE_BACKEND", "s3")
    monkeypatch.setenv("INDOX_MEDIA_S3_BUCKET", "legacy")
    assert create_app(config).extensions["indox_media"].settings.storage_backend == "s3"


def test_api_keys_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("API_KEYS", "a:alice, b:bob")
    app = create_app({"INDOX_MEDIA_LOCAL_ROOT": str(tmp_path)})
    assert app.config["API_KEYS"] == {"a": "alice", "b": "bob"}


@pytest.mark.parametrize(
    ("header", "user"),
    [
        ("Bearer k-1", "alice"),
        ("bearer k-1", "alice"),
        ("Token token=k-1", "alice"),
        ("Bearer wrong", None),
        ("Token k-1", None),
        ("Basic k-1", None),
        ("", None),
        ("Bearer ", None),
    ],
)
def test_callers_are_identified_by_api_key(
    config: dict[str, object], header: str, user: str | None
) -> None:
    app = create_app(config)
    state = app.extensions["indox_media"]
    with app.test_request_context(headers={"Authorization": header} if header else {}):
        assert state.current_user() == user


def test_key_parsing() -> None:
    app = create_app({"API_KEYS": {}})
    with app.test_request_context(headers={"Authorization": "Token token=abc"}):
        assert api_key_from_request() == "abc"


def test_the_player_demo_page(config: dict[str, object]) -> None:
    client = create_app(config).test_client()
    src = "https://media.example.com/tts/a.wav?X-Amz-Signature=1&x=<b>"
    page = client.get("/player", query_string={"src": src})
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert 'crossorigin="anonymous"' in text
    assert (
        'src="https://media.example.com/tts/a.wav?X-Amz-Signature=1&amp;x=&lt;b&gt;"'
        in text
    )
    for bad in ("", "javascript:alert(1)", "file:///etc/passwd"):
        assert client.get("/player", query_string={"src": bad}).status_code == 400
