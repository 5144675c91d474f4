"""A host with a flask-smorest Api of its own: the gateway joins that Api (found
on the app, or passed as ``api=``), in either order of initialisation, and a
host with several must say which."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask_smorest import Api, Blueprint
from openapi_spec_validator import validate

from flask_indox_media import ConfigurationError, IndoxMedia
from flask_indox_media.state import EXTENSION_KEY
from flask_indox_media.testing import serve_wsgi
from flask_indox_media.web import host_api
from flask_indox_media.web.openapi import SECURITY_SCHEMES

P = "/api/v1/resemble"
HOST_SETTINGS = {
    "API_TITLE": "Host",
    "API_VERSION": "2",
    "OPENAPI_VERSION": "3.0.3",
}
#: A second Api's settings (config prefix V2).
V2 = {"V2_API_TITLE": "Other", "V2_API_VERSION": "1", "V2_OPENAPI_VERSION": "3.0.3"}
DOCS = {
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_SWAGGER_UI_PATH": "/swagger-ui",
    "OPENAPI_SWAGGER_UI_URL": "https://cdn.example.test/swagger-ui/",
}


def host_app(tmp_path: Path, **config: Any) -> Flask:
    app = Flask("host", instance_path=str(tmp_path / "instance"))
    app.config.update(SECRET_KEY="s", TESTING=True, **HOST_SETTINGS, **config)
    return app


def orders() -> Blueprint:
    """The host's own routes (a fresh blueprint per app)."""
    blp = Blueprint("orders", __name__, url_prefix="/orders")

    @blp.route("/")
    def list_orders() -> dict[str, Any]:
        return {"orders": []}

    return blp


def apis(app: Flask) -> dict[str, Any]:
    return {k: v["ext_obj"] for k, v in app.extensions["flask-smorest"]["apis"].items()}


def assert_joined(spec: dict[str, Any]) -> None:
    """``spec`` is the host's document with the gateway in it."""
    validate(spec)
    assert spec["info"]["title"] == "Host"
    assert "/orders/" in spec["paths"]
    assert f"{P}/tts/synthesize" in spec["paths"]
    assert set(SECURITY_SCHEMES) <= set(spec["components"]["securitySchemes"])
    assert "Asset" in spec["components"]["schemas"]


def test_a_host_api_serving_docs_is_found(tmp_path: Path) -> None:
    app = host_app(tmp_path, **DOCS)
    api = Api(app)
    api.register_blueprint(orders())
    IndoxMedia(app)  # no "'api-docs' is already registered"
    client = app.test_client()
    assert list(apis(app).values()) == [api]
    assert_joined(client.get("/openapi.json").get_json())
    assert client.get("/swagger-ui").status_code == 200
    assert client.get("/orders/").get_json() == {"orders": []}
    # The host's document is the only one, and its settings are left alone.
    assert client.get(f"{P}/openapi.json").status_code == 404
    assert client.get(f"{P}/docs").status_code == 404
    assert app.config["API_TITLE"] == "Host"
    assert "OPENAPI_JSON_PATH" not in app.config
    assert client.post(f"{P}/tts/synthesize", json={}).status_code == 401


def test_a_host_api_without_docs_is_found(tmp_path: Path) -> None:
    app = host_app(tmp_path)
    api = Api(app)
    IndoxMedia(app)
    client = app.test_client()
    assert list(apis(app).values()) == [api]
    assert f"{P}/tts/synthesize" in api.spec.to_dict()["paths"]
    # The host serves no document, so neither does the extension on its behalf.
    assert client.get(f"{P}/openapi.json").status_code == 404
    assert client.get("/openapi.json").status_code == 404
    assert client.post(f"{P}/tts/synthesize", json={}).status_code == 401


@pytest.mark.parametrize("factory", [False, True], ids=["direct", "app-factory"])
def test_the_extension_initialised_first(tmp_path: Path, factory: bool) -> None:
    app = host_app(tmp_path, **DOCS)
    if factory:
        api, media = Api(), IndoxMedia()
        media.init_app(app)
        api.init_app(app)
    else:
        IndoxMedia(app)
        api = Api(app)
    api.register_blueprint(orders())
    client = app.test_client()
    assert_joined(client.get("/openapi.json").get_json())
    assert list(apis(app).values()) == [api]
    assert client.get(f"{P}/openapi.json").status_code == 404
    assert client.post(f"{P}/tts/synthesize", json={}).status_code == 401


def test_without_a_host_api_the_extension_makes_one_at_first_use(
    tmp_path: Path,
) -> None:
    app = host_app(tmp_path)
    IndoxMedia(app)
    # Nothing yet: a host Api may still be initialized.
    assert "flask-smorest" not in app.extensions
    with app.app_context():
        (api,) = apis(app).values()
    assert f"{P}/tts/synthesize" in api.spec.to_dict()["paths"]
    assert app.test_client().get(f"{P}/openapi.json").status_code == 200


def test_flask_openapi_prints_the_extensions_own_document(tmp_path: Path) -> None:
    app = host_app(tmp_path)
    IndoxMedia(app)
    result = app.test_cli_runner().invoke(args=["openapi", "print"])
    assert result.exit_code == 0, result.output
    assert f"{P}/tts/synthesize" in result.output


@pytest.mark.parametrize("initialised", ["before", "after"])
def test_api_given_explicitly(tmp_path: Path, initialised: str) -> None:
    app = host_app(tmp_path, **DOCS, **V2)
    api, other = Api(), Api(config_prefix="V2")
    media = IndoxMedia(api=api)
    if initialised == "before":
        api.init_app(app)
        other.init_app(app)
        media.init_app(app)
    else:
        media.init_app(app)
        api.init_app(app)
        other.init_app(app)
    client = app.test_client()
    spec = client.get("/openapi.json").get_json()
    assert f"{P}/tts/synthesize" in spec["paths"]
    assert not other.spec.to_dict().get("paths")


def test_two_host_apis_and_no_choice_are_refused(tmp_path: Path) -> None:
    app = host_app(tmp_path, **V2)
    Api(app)
    Api(app, config_prefix="V2")
    with pytest.raises(ConfigurationError, match=r"2 flask-smorest Apis.*api="):
        IndoxMedia(app)
    # Refused before anything was registered: init_app may be retried.
    assert EXTENSION_KEY not in app.extensions
    assert "resemble" not in app.blueprints


def test_two_host_apis_after_the_extension_are_refused_at_first_use(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = host_app(tmp_path, **V2)
    IndoxMedia(app)
    Api(app)
    Api(app, config_prefix="V2")
    client = app.test_client()
    # Every request says why (TESTING re-raises it here; in production, a 500
    # and the message in the log), and the start-up log says it once.
    for _ in range(2):
        with pytest.raises(ConfigurationError, match=r"2 flask-smorest Apis.*api="):
            client.get("/anything")
    assert "routes are not registered" in caplog.text


def test_an_api_never_initialized_is_refused_at_first_use(tmp_path: Path) -> None:
    app = host_app(tmp_path)
    IndoxMedia(app, api=Api())
    with app.app_context():
        pass  # no exception while a context is pushed: it would leave it pushed
    with pytest.raises(ConfigurationError, match=r"api\.init_app"):
        app.test_client().get("/anything")


def test_concurrent_first_requests_wait_for_the_routes(
    make_gateway: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under a threaded server the first requests arrive together: none may
    be dispatched (Flask's "first request") before the deferred registration
    is done, or Flask refuses it and every request fails."""
    slow = host_api.GatewayRegistration._finish

    def finish_slowly(self: Any, app: Flask) -> None:
        time.sleep(0.5)  # a wide window for the other requests
        slow(self, app)

    monkeypatch.setattr(host_api.GatewayRegistration, "_finish", finish_slowly)
    app = make_gateway()
    codes: list[int] = []
    with serve_wsgi(app) as base:
        barrier = threading.Barrier(8)

        def first() -> None:
            barrier.wait()
            answer = requests.get(
                f"{base}/api/v1/resemble/tts/voices",
                headers={"Authorization": "Bearer key-a"},
                timeout=30,
            )
            codes.append(answer.status_code)

        threads = [threading.Thread(target=first) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert codes == [200] * 8
