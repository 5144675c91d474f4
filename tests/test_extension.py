from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from flask_indox_media import ConfigurationError, IndoxMedia
from flask_indox_media.storage.local import LocalBackend
from flask_indox_media.storage.r2 import R2Backend
from flask_indox_media.storage.s3 import S3Backend

R2 = {
    "INDOX_MEDIA_STORAGE_BACKEND": "r2",
    "INDOX_MEDIA_R2_ACCOUNT_ID": "acct123",
    "INDOX_MEDIA_R2_ACCESS_KEY_ID": "r2-access-id-xyz",
    "INDOX_MEDIA_R2_SECRET_ACCESS_KEY": "r2-secret-very-private",
    "INDOX_MEDIA_R2_BUCKET": "media",
}


def test_state_lives_in_app_extensions(app: Flask) -> None:
    state = app.extensions["indox_media"]
    assert state.settings.storage_backend == "local"
    assert isinstance(state.catalog.primary, LocalBackend)
    assert state.catalog.primary.root == str(Path(app.instance_path) / "indox-media")


def test_every_key_is_defaulted(app: Flask) -> None:
    from flask_indox_media.config import DEFAULTS

    assert set(DEFAULTS) <= set(app.config)
    assert app.config["INDOX_MEDIA_PRESIGN_TTL"] == 3600


def test_second_registration_is_refused(app: Flask) -> None:
    with pytest.raises(RuntimeError, match="already registered"):
        IndoxMedia(app)


def test_state_accessor_outside_app_says_what_to_do() -> None:
    media = IndoxMedia()
    app = Flask("other")
    with app.app_context(), pytest.raises(RuntimeError, match="init_app"):
        _ = media.state


def test_init_app_later_and_many_apps(tmp_path: Path) -> None:
    media = IndoxMedia()
    apps = []
    for i in range(2):
        app = Flask(f"a{i}", instance_path=str(tmp_path / str(i)))
        app.config["SECRET_KEY"] = "k"
        media.init_app(app)
        apps.append(app)
    for app in apps:
        with app.app_context():
            assert media.state is app.extensions["indox_media"]


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"INDOX_MEDIA_STORAGE_BACKEND": "r2"}, "INDOX_MEDIA_R2_BUCKET"),
        ({**R2, "INDOX_MEDIA_R2_ACCOUNT_ID": None}, "INDOX_MEDIA_R2_ACCOUNT_ID"),
        (
            {**R2, "INDOX_MEDIA_R2_SECRET_ACCESS_KEY": ""},
            "INDOX_MEDIA_R2_SECRET_ACCESS_KEY",
        ),
        ({"INDOX_MEDIA_STORAGE_BACKEND": "s3"}, "INDOX_MEDIA_S3_BUCKET"),
        ({"INDOX_MEDIA_R2_BUCKET": "old-links"}, "INDOX_MEDIA_R2_ACCOUNT_ID"),
        ({"INDOX_MEDIA_STORAGE_BACKEND": "gcs"}, "INDOX_MEDIA_STORAGE_BACKEND"),
        (
            {"INDOX_MEDIA_STORAGE_BACKEND": "no.such.Backend"},
            "INDOX_MEDIA_STORAGE_BACKEND",
        ),
        ({"INDOX_MEDIA_STORAGE_BACKEND": "flask.Flask"}, "INDOX_MEDIA_STORAGE_BACKEND"),
        ({"INDOX_MEDIA_PRESIGN_TTL": 7 * 24 * 3600 + 1}, "INDOX_MEDIA_PRESIGN_TTL"),
        ({"INDOX_MEDIA_PRESIGN_TTL": "soon"}, "INDOX_MEDIA_PRESIGN_TTL"),
        ({"INDOX_MEDIA_MULTIPART_CHUNKSIZE": 1024}, "INDOX_MEDIA_MULTIPART_CHUNKSIZE"),
        ({"INDOX_MEDIA_RETENTION": {"tts": -1}}, "INDOX_MEDIA_RETENTION"),
        ({"INDOX_MEDIA_RETENTION": ["tts"]}, "INDOX_MEDIA_RETENTION"),
        ({"INDOX_MEDIA_URL_PREFIX": "api"}, "INDOX_MEDIA_URL_PREFIX"),
        ({"INDOX_MEDIA_METRICS_PATH": "metrics"}, "INDOX_MEDIA_METRICS_PATH"),
        (
            {"INDOX_MEDIA_S3_ACCESS_KEY_ID": "only-half"},
            "INDOX_MEDIA_S3_SECRET_ACCESS_KEY",
        ),
        ({"INDOX_MEDIA_PRESIGN_TLL": 60}, "INDOX_MEDIA_PRESIGN_TLL"),
        ({"SECRET_KEY": None}, "INDOX_MEDIA_SIGNING_KEY"),
    ],
)
def test_bad_config_fails_at_init_app_naming_the_key(
    make_app: Callable[..., Flask], config: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        make_app(config)
    assert info.value.key == key
    assert key in str(info.value)


def test_storage_backend_env_is_the_rollback_switch(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = {"INDOX_MEDIA_S3_BUCKET": "legacy", "INDOX_MEDIA_S3_REGION": "eu-west-1"}
    monkeypatch.setenv("STORAGE_BACKEND", "s3")
    app = make_app({**R2, "INDOX_MEDIA_STORAGE_BACKEND": None, **s3})
    state = app.extensions["indox_media"]
    assert isinstance(state.catalog.primary, S3Backend) and not isinstance(
        state.catalog.primary, R2Backend
    )
    assert set(state.catalog.backends) == {"s3", "r2"}  # old R2 links keep resolving
    monkeypatch.setenv("STORAGE_BACKEND", "r2")
    assert isinstance(
        make_app({**R2, "INDOX_MEDIA_STORAGE_BACKEND": None, **s3})
        .extensions["indox_media"]
        .catalog.primary,
        R2Backend,
    )


def test_the_env_switch_wins_over_app_config(
    make_app: Callable[..., Flask],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The rollback switch works even when the app names a backend in code."""
    caplog.set_level(logging.INFO)
    s3 = {"INDOX_MEDIA_S3_BUCKET": "legacy"}
    monkeypatch.setenv("STORAGE_BACKEND", "s3")
    app = make_app({**R2, **s3})
    settings = app.extensions["indox_media"].settings
    assert settings.storage_backend == "s3"
    assert settings.storage_backend_source == "the STORAGE_BACKEND environment variable"
    assert "chosen by the STORAGE_BACKEND environment variable" in caplog.text
    monkeypatch.setenv("STORAGE_BACKEND", "gcs")
    with pytest.raises(ConfigurationError) as info:
        make_app()
    assert info.value.key == "STORAGE_BACKEND"


def test_several_backends_configured_and_none_chosen_fails_naming_the_keys(
    make_app: Callable[..., Flask],
) -> None:
    both = {**R2, "INDOX_MEDIA_STORAGE_BACKEND": None, "INDOX_MEDIA_S3_BUCKET": "b"}
    with pytest.raises(ConfigurationError) as info:
        make_app(both)
    message = str(info.value)
    assert "INDOX_MEDIA_R2_BUCKET" in message and "INDOX_MEDIA_S3_BUCKET" in message
    assert "STORAGE_BACKEND" in message


def test_the_only_configured_backend_is_the_default(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app({**R2, "INDOX_MEDIA_STORAGE_BACKEND": None})
    settings = app.extensions["indox_media"].settings
    assert settings.storage_backend == "r2"
    assert "INDOX_MEDIA_R2_BUCKET" in settings.storage_backend_source
    assert make_app().extensions["indox_media"].settings.storage_backend == "local"


@pytest.mark.parametrize(
    ("jurisdiction", "endpoint", "expected"),
    [
        (None, None, "https://acct123.r2.cloudflarestorage.com"),
        ("eu", None, "https://acct123.eu.r2.cloudflarestorage.com"),
        ("eu", "http://127.0.0.1:9000", "http://127.0.0.1:9000"),
    ],
)
def test_r2_endpoint(
    make_app: Callable[..., Flask],
    jurisdiction: str | None,
    endpoint: str | None,
    expected: str,
) -> None:
    app = make_app(
        {
            **R2,
            "INDOX_MEDIA_R2_JURISDICTION": jurisdiction,
            "INDOX_MEDIA_R2_ENDPOINT_URL": endpoint,
        }
    )
    backend = app.extensions["indox_media"].catalog.primary
    assert isinstance(backend, R2Backend)
    assert backend.endpoint_url == expected and backend.region == "auto"


def test_secrets_stay_out_of_repr_and_logs(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = make_app({**R2, "INDOX_MEDIA_RESEMBLE_API_KEY": "resemble-key-secret"})
    state = app.extensions["indox_media"]
    texts = [
        repr(state),
        repr(state.settings),
        repr(state.catalog.primary),
        caplog.text,
    ]
    for secret in (
        "r2-secret-very-private",
        "r2-access-id-xyz",
        "resemble-key-secret",
        "test-secret",
    ):
        assert all(secret not in text for text in texts)
    # The account moved with the R2 keys into the backend: its repr says where.
    assert "acct123" in repr(state.catalog.primary)


def test_dotted_path_names_a_user_backend(make_app: Callable[..., Flask]) -> None:
    app = make_app(
        {"INDOX_MEDIA_STORAGE_BACKEND": "tests.custom_backend.MemoryBackend"}
    )
    from tests.custom_backend import MemoryBackend

    assert isinstance(app.extensions["indox_media"].catalog.primary, MemoryBackend)


def test_a_dotted_path_backend_reads_keys_of_its_own(
    make_app: Callable[..., Flask],
) -> None:
    dotted = {"INDOX_MEDIA_STORAGE_BACKEND": "tests.custom_backend.MemoryBackend"}
    app = make_app({**dotted, "INDOX_MEDIA_MEMORY_CAPACITY": 7})
    assert app.extensions["indox_media"].catalog.primary.capacity == 7
    assert make_app(dotted).config["INDOX_MEDIA_MEMORY_CAPACITY"] == 1000
    with pytest.raises(ConfigurationError) as info:
        make_app({**dotted, "INDOX_MEDIA_MEMORY_CAPACTY": 7})
    assert info.value.key == "INDOX_MEDIA_MEMORY_CAPACTY"
    with pytest.raises(ConfigurationError) as info:
        make_app({**dotted, "INDOX_MEDIA_MEMORY_CAPACITY": 0})
    assert info.value.key == "INDOX_MEDIA_MEMORY_CAPACITY"
    # Without that backend in use, its keys are unknown keys.
    with pytest.raises(ConfigurationError, match="INDOX_MEDIA_MEMORY_CAPACITY"):
        make_app({"INDOX_MEDIA_MEMORY_CAPACITY": 7})


def test_every_key_has_a_documented_default(app: Flask) -> None:
    """docs/config.rst gives every key the extension sets a ``.. data::`` entry."""
    docs = (Path(__file__).parents[1] / "docs" / "config.rst").read_text()
    keys = sorted(k for k in app.config if k.startswith("INDOX_MEDIA_"))
    assert len(keys) > 30
    assert [k for k in keys if f".. data:: {k}\n" not in docs] == []


def test_signing_key_fallbacks_follow_secret_key_fallbacks(
    make_app: Callable[..., Flask],
) -> None:
    state = make_app({"SECRET_KEY": "new", "SECRET_KEY_FALLBACKS": ["old"]}).extensions[
        "indox_media"
    ]
    assert state.settings.signing_keys == (b"old", b"new")
    own = make_app(
        {
            "INDOX_MEDIA_SIGNING_KEY": "mine",
            "INDOX_MEDIA_SIGNING_KEY_FALLBACKS": ["was"],
        }
    ).extensions["indox_media"]
    assert own.settings.signing_keys == (b"was", b"mine")
    assert "mine" not in repr(own.settings) and "was" not in repr(own.settings)


def test_the_package_has_one_way_layers() -> None:
    """No import cycle (imports inside functions counted), no module over 400
    lines and no function over 60, by the project's structure tool."""
    root = Path(__file__).parents[1]
    tool = root.parent / "shared" / "tools" / "structure.py"
    result = subprocess.run(
        [
            sys.executable,
            str(tool),
            str(root / "flask_indox_media"),
            "--exclude",
            "testing",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
    assert "0 import cycles" in result.stdout


def test_risky_settings_are_warned_on_the_apps_logger(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    """On the app's logger, which `flask run` shows (ours has a NullHandler)."""
    make_app()
    warned = [r for r in caplog.records if r.name == "test_app"]
    assert any("INDOX_MEDIA_REDIS_URL is not set" in r.message for r in warned)
    assert any("INDOX_MEDIA_RESEMBLE_API_KEY is not set" in r.message for r in warned)
    caplog.clear()
    make_app({"INDOX_MEDIA_RESEMBLE_API_KEY": "k"})
    assert not any("RESEMBLE_API_KEY" in r.message for r in caplog.records)
