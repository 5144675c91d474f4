"""docs/quickstart.rst, followed verbatim: its code blocks are read from the page
and run as written, with only the "..." placeholders filled in."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from flask import Flask
from werkzeug.datastructures import ImmutableDict

from flask_indox_media.testing import wav_bytes
from tests.conftest import ALICE, R2_ENDPOINT, gateway_config

QUICKSTART = Path(__file__).resolve().parents[1] / "docs" / "quickstart.rst"
P = "/api/v1/resemble"

#: The test values of the page's "..." placeholders, by setting.
PLACEHOLDERS = {
    "SECRET_KEY": "test-secret",
    "INDOX_MEDIA_R2_ACCOUNT_ID": "acct",  # R2_ENDPOINT's account
    "INDOX_MEDIA_R2_ACCESS_KEY_ID": "testing",
    "INDOX_MEDIA_R2_SECRET_ACCESS_KEY": "testing",
}


def code_blocks(text: str) -> Iterator[tuple[str, str]]:
    """Each literal block of a reST page, as (language, code); ``literal`` for
    a paragraph's ``::`` block."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"\.\. code-block:: *(\w+)", line)
        if not match and not line.rstrip().endswith("::"):
            continue
        body: list[str] = []
        for following in lines[i + 1 :]:
            if following.strip() and not following.startswith(" "):
                break
            body.append(following)
        yield (match[1] if match else "literal"), textwrap.dedent("\n".join(body))


def filled(code: str) -> str:
    """``code`` with each ``NAME="..."`` placeholder given its test value."""

    def value(match: re.Match[str]) -> str:
        return f"{match[1]}={PLACEHOLDERS[match[1]]!r}"

    return re.sub(r'(\w+)="\.\.\."', value, code)


BLOCKS = list(code_blocks(QUICKSTART.read_text()))
PYTHON = [code for language, code in BLOCKS if language == "python"]
#: The two ways the page registers the extension: alone, and beside a host Api.
ALONE = next(c for c in PYTHON if "IndoxMedia(app)" in c and "Api(" not in c)
WITH_HOST_API = next(c for c in PYTHON if "api = Api(app)" in c)
STORING = next(c for c in PYTHON if ".store(" in c)


def test_the_only_other_block_is_the_install_line() -> None:
    (literal,) = [code for language, code in BLOCKS if language == "literal"]
    assert literal.strip().startswith("pip install .")


@pytest.fixture
def r2_media(r2_in_process: Any) -> None:
    """The page's bucket, ``media``, on moto at the page's account's endpoint."""
    boto3.client(
        "s3",
        endpoint_url=R2_ENDPOINT,
        region_name="auto",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(
        Bucket="media", CreateBucketConfiguration={"LocationConstraint": "auto"}
    )


@pytest.fixture
def deployment(upstream: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a deployment adds to the page's code: Resemble's address (here the
    fake's) and the gateway's Resemble key. They arrive as Flask's defaults, so
    the page's code runs untouched."""
    config = gateway_config(upstream)
    del config["SECRET_KEY"], config["API_KEYS"]
    monkeypatch.setattr(
        Flask, "default_config", ImmutableDict({**Flask.default_config, **config})
    )
    monkeypatch.chdir(tmp_path)  # the app's root, and where hello.wav is


@pytest.mark.usefixtures("r2_media", "deployment")
@pytest.mark.parametrize(
    ("code", "document", "host_path"),
    [(ALONE, f"{P}/openapi.json", None), (WITH_HOST_API, "/openapi.json", "/orders/")],
    ids=["alone", "with-host-api"],
)
def test_the_quickstart_verbatim(
    code: str, document: str, host_path: str | None
) -> None:
    namespace: dict[str, Any] = {
        "__name__": "quickstart_app",
        "users_by_api_key": {ALICE["Authorization"]: "alice"},
    }
    exec(compile(filled(code), str(QUICKSTART), "exec"), namespace)
    app: Flask = namespace["app"]
    client = app.test_client()

    answer = client.post(
        f"{P}/tts/synthesize", json={"voice_uuid": "v1", "text": "Hi."}, headers=ALICE
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["audio_url"].startswith(f"{R2_ENDPOINT}/media/tts/alice/")

    spec = client.get(document).get_json()
    assert f"{P}/tts/synthesize" in spec["paths"]
    assert "gatewayBearer" in spec["components"]["securitySchemes"]
    if host_path:
        assert host_path in spec["paths"]
        assert client.get(host_path).get_json() == {"orders": []}
        assert client.get(f"{P}/openapi.json").status_code == 404

    Path("hello.wav").write_bytes(wav_bytes(0.1))
    exec(compile(STORING, str(QUICKSTART), "exec"), namespace)
    described = namespace["described"]
    assert described["audio_url"].startswith(f"{R2_ENDPOINT}/media/tts/user-42/")
