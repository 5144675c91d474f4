"""The README's demo: runs offline, with no configuration.

A fake Resemble upstream (``flask_indox_media.testing``) and the example gateway
are served on loopback ports; a client then uses the gateway over HTTP, and every
``audio_url`` it gets is fetched back and compared with the upstream's bytes.
"""

from __future__ import annotations

import base64
import tempfile
from typing import Any

import requests

from example_app import create_app
from flask_indox_media.testing import FakeResemble, serve_wsgi
from flask_indox_media.testing.fake_resemble import DEFAULT_KEY

AUTH = {"Authorization": "Bearer demo-key"}


def show(title: str, fields: dict[str, Any], expected: bytes) -> None:
    fetched = requests.get(fields["audio_url"], timeout=10)
    same = fetched.content == expected
    print(f"\n{title}")
    print(f"  asset_class  {fields['asset_class']}")
    print(f"  audio_url    {fields['audio_url'].split('?')[0]}?<signature>")
    print(f"  expires_at   {fields['expires_at']}")
    print(f"  resemble_url {fields['resemble_url']}")
    print(
        f"  fetched back through audio_url: HTTP {fetched.status_code}, "
        f"{fetched.headers.get('Content-Type')}, {len(fetched.content)} bytes, "
        f"identical to the upstream's: {same}"
    )
    if not same:
        raise SystemExit("demo failed: the mirrored bytes differ from the upstream's")


def main() -> None:
    fake = FakeResemble()
    with (
        tempfile.TemporaryDirectory(prefix="indox-media-demo-") as root,
        serve_wsgi(fake.app) as up,
    ):
        config = {
            "INDOX_MEDIA_LOCAL_ROOT": root,
            "INDOX_MEDIA_STORAGE_BACKEND": "local",
            "INDOX_MEDIA_RESEMBLE_API_KEY": DEFAULT_KEY,
            "INDOX_MEDIA_RESEMBLE_BASE_URL": up + "/api/",
            "INDOX_MEDIA_RESEMBLE_SYNTH_URL": up + "/",
            "INDOX_MEDIA_SOURCE_HOSTS": "127.0.0.1:" + up.rsplit(":", 1)[1],
        }
        app = create_app(config)
        state = app.extensions["indox_media"]
        with serve_wsgi(app) as gw:
            api = gw + "/api/v1/resemble"
            print(f"fake Resemble on {up}; gateway on {gw}")
            print(f"storage backend: {state.settings.storage_backend} ({root})")

            tts = requests.post(
                f"{api}/tts/synthesize",
                json={
                    "voice_uuid": "voice-1",
                    "text": "Your table is ready.",
                    "output_format": "mp3",
                },
                headers=AUTH,
                timeout=10,
            ).json()
            show(
                "1. POST /tts/synthesize (inline base64 audio)",
                tts,
                base64.b64decode(tts["audio_content"]),
            )

            clip = requests.post(
                f"{api}/projects/proj-1/clips",
                json={"fields": {"voice_uuid": "voice-1", "body": "Welcome back."}},
                headers=AUTH,
                timeout=10,
            ).json()["item"]
            upstream_bytes = requests.get(clip["audio_src"], timeout=10).content
            show("2. POST /projects/proj-1/clips (audio by URL)", clip, upstream_bytes)

            job = requests.post(
                f"{api}/enhance",
                json={"audio_url": clip["audio_src"]},
                headers=AUTH,
                timeout=10,
            ).json()
            print(
                f"\n3. POST /enhance -> job {job['uuid']} ({job['status']}); polling..."
            )
            for poll in range(1, 10):
                result = requests.get(
                    f"{api}/enhance/{job['uuid']}", headers=AUTH, timeout=10
                ).json()
                print(f"  poll {poll}: {result['status']}")
                if result["status"] == "completed":
                    break
            upstream_bytes = requests.get(
                result["enhanced_audio_url"], timeout=10
            ).content
            show(
                "   the finished job, mirrored on the first poll that showed it",
                result,
                upstream_bytes,
            )

            print("\nObjects in the bucket:")
            for name, asset_class in state.settings.classes.items():
                keys = [
                    info.key
                    for info in state.catalog.primary.list_objects(asset_class.prefix)
                ]
                for key in keys:
                    print(f"  {key}")
                if not keys:
                    print(
                        f"  ({asset_class.prefix} is empty; {name} keeps objects "
                        f"{'forever' if asset_class.permanent else f'{asset_class.retention_days} days'})"
                    )


if __name__ == "__main__":
    main()
