"""The README's demo: runs offline, with no configuration.

It serves the example app on a loopback port and walks through what the
extension does, printing what a client would see.
"""

from __future__ import annotations

import io
import tempfile

import requests

from example_app import create_app
from flask_indox_media.testing import serve_wsgi, wav_bytes


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="indox-media-demo-") as root:
        app = create_app(
            {"INDOX_MEDIA_LOCAL_ROOT": root, "INDOX_MEDIA_STORAGE_BACKEND": "local"}
        )
        with serve_wsgi(app) as base:
            state = app.extensions["indox_media"]
            print(
                f"gateway on {base}, storage backend: {state.settings.storage_backend}\n"
            )
            print("1. One asset of each class, stored on the local backend:")
            audio = wav_bytes(seconds=0.5)
            with app.test_request_context(base_url=base):
                for name in state.settings.classes:
                    asset, size = state.store(
                        name,
                        "demo-user",
                        io.BytesIO(audio),
                        content_type="audio/wav",
                        extension="wav",
                    )
                    fields = state.describe(asset)
                    fetched = requests.get(fields["audio_url"], timeout=10)
                    same = fetched.content == audio
                    print(f"   {name:17} key={asset.key}")
                    print(f"   {'':17} expires_at={fields['expires_at']}")
                    print(f"   {'':17} audio_url={fields['audio_url'][:90]}...")
                    print(
                        f"   {'':17} fetched: HTTP {fetched.status_code}, "
                        f"{fetched.headers['Content-Type']}, {len(fetched.content)} bytes, "
                        f"identical: {same}"
                    )
                    if not same:
                        raise SystemExit("demo failed: the fetched bytes differ")


if __name__ == "__main__":
    main()
