"""A fake Resemble upstream: a small WSGI app answering the routes the gateway
calls, in Resemble's shapes, with real generated WAV/MP3 bytes.

Serve it on a loopback port (``serve_wsgi(fake.app)``), point the gateway's
``INDOX_MEDIA_RESEMBLE_BASE_URL`` at ``<base>/api/`` and
``INDOX_MEDIA_RESEMBLE_SYNTH_URL`` at ``<base>/``, and list ``127.0.0.1:<port>``
in ``INDOX_MEDIA_SOURCE_HOSTS``. Async jobs complete after ``polls_until_done``
polls; callbacks of async clips are sent by :meth:`FakeResemble.deliver_callbacks`.
"""

from __future__ import annotations

import base64
import itertools
import threading
from typing import Any

import requests
from flask import Flask, Response, abort, jsonify, request

from .audio import audio_bytes, wav_bytes

DEFAULT_KEY = "fake-resemble-key"


class FakeResemble:
    """The fake's state: files, jobs, and every request it received.

    :param api_key: the upstream key it accepts (as ``Token token=`` or ``Bearer``).
    :param polls_until_done: GETs of an async job that still show it running.
    """

    def __init__(
        self, api_key: str = DEFAULT_KEY, *, polls_until_done: int = 1
    ) -> None:
        self.api_key = api_key
        self.polls_until_done = polls_until_done
        self.files: dict[str, tuple[bytes, str]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.clips: dict[str, dict[str, Any]] = {}
        self.recordings: dict[str, dict[str, Any]] = {}
        self.received: list[dict[str, Any]] = []
        self.pending_callbacks: list[tuple[str, dict[str, Any]]] = []
        self.file_gets = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.app = self._build()

    def new_id(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}{next(self._ids)}"

    def add_file(self, data: bytes, content_type: str, ext: str) -> str:
        """Store audio; returns its URL on the fake (needs a request context)."""
        name = self.new_id("f") + "." + ext
        self.files[name] = (data, content_type)
        return f"{request.host_url}files/{name}"

    def deliver_callbacks(self) -> list[int]:
        """POST every pending async-clip callback; returns their statuses."""
        pending, self.pending_callbacks = self.pending_callbacks, []
        return [
            requests.post(url, json=body, timeout=30).status_code
            for url, body in pending
        ]

    def _poll(self, job_id: str) -> tuple[dict[str, Any], bool]:
        """Count a GET of the job; returns it and whether it has finished."""
        job = self.jobs.get(job_id)
        if job is None:
            abort(404)
        job["polls"] += 1
        return job, job["polls"] > self.polls_until_done

    def _build(self) -> Flask:  # noqa: C901 - one route table
        app = Flask("fake_resemble")
        fake = self

        @app.before_request
        def check_auth() -> Any:
            if request.path.startswith("/files/"):
                return None
            fake.received.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "headers": dict(request.headers),
                }
            )
            header = request.headers.get("Authorization", "")
            if header not in (f"Token token={fake.api_key}", f"Bearer {fake.api_key}"):
                return jsonify(success=False, message="Invalid API token"), 401
            return None

        @app.get("/files/<name>")
        def file(name: str) -> Response:
            if name not in fake.files:
                abort(404)
            fake.file_gets += 1
            data, content_type = fake.files[name]
            return Response(data, content_type=content_type)

        @app.post("/synthesize")
        def synthesize() -> Any:
            body = request.get_json(force=True)
            if not body.get("data") or not body.get("voice_uuid"):
                return jsonify(
                    success=False, issues=["data and voice_uuid are required"]
                ), 400
            fmt = body.get("output_format", "wav")
            audio = audio_bytes(fmt, seconds=0.5)
            return jsonify(
                success=True,
                audio_content=base64.b64encode(audio).decode(),
                duration=0.5,
                output_format=fmt,
                sample_rate=body.get("sample_rate", 22050),
                title=body.get("title"),
                issues=[],
            )

        def voice(uuid: str) -> dict[str, Any]:
            return {
                "uuid": uuid,
                "name": f"Voice {uuid}",
                "status": "finished",
                "voice_type": "rapid",
            }

        @app.get("/api/v2/voices")
        def voices() -> Any:
            return jsonify(
                success=True,
                page=1,
                num_pages=1,
                items=[voice("voice-1"), voice("voice-2")],
            )

        @app.get("/api/v2/voices/<uuid>")
        def get_voice(uuid: str) -> Any:
            return jsonify(success=True, item=voice(uuid))

        @app.post("/api/v2/voices")
        def create_voice() -> Any:
            body = request.get_json(force=True)
            item = {
                **voice(fake.new_id("voice-")),
                "name": body.get("name"),
                "status": "initializing",
            }
            return jsonify(success=True, item=item)

        @app.post("/api/v2/voices/<uuid>/build")
        def build(uuid: str) -> Any:
            return jsonify(success=True, message="Voice build started")

        @app.delete("/api/v2/voices/<uuid>")
        def delete_voice(uuid: str) -> Any:
            return jsonify(success=True)

        @app.post("/api/v2/voices/<v>/recordings")
        def create_recording(v: str) -> Any:
            upload = request.files.get("file")
            if upload is None:
                return jsonify(success=False, message="file is required"), 400
            uuid = fake.new_id("rec-")
            url = fake.add_file(upload.read(), upload.mimetype or "audio/wav", "wav")
            item = {
                "uuid": uuid,
                "name": request.form.get("name"),
                "text": request.form.get("text"),
                "emotion": request.form.get("emotion"),
                "is_active": True,
                "audio_src": url,
            }
            fake.recordings[uuid] = item
            return jsonify(success=True, item=item)

        @app.get("/api/v2/voices/<v>/recordings")
        def recordings(v: str) -> Any:
            return jsonify(
                success=True, page=1, num_pages=1, items=list(fake.recordings.values())
            )

        @app.route(
            "/api/v2/voices/<v>/recordings/<r>",
            methods=["GET", "PUT", "PATCH", "DELETE"],
        )
        def recording(v: str, r: str) -> Any:
            if r not in fake.recordings:
                return jsonify(success=False, message="not found"), 404
            if request.method == "DELETE":
                del fake.recordings[r]
                return jsonify(success=True)
            if request.method in ("PUT", "PATCH"):
                fake.recordings[r].update(request.get_json(force=True) or {})
            return jsonify(success=True, item=fake.recordings[r])

        @app.post("/api/v2/voice-design")
        def voice_design() -> Any:
            uuid = fake.new_id("vd-")
            candidates = [
                {
                    "audio_url": fake.add_file(
                        wav_bytes(0.3, frequency=300 + 100 * i), "audio/wav", "wav"
                    )
                    + "?expires=4h",
                    "voice_sample_index": i,
                    "uuid": uuid,
                }
                for i in range(3)
            ]
            return jsonify(voice_candidates=candidates)

        @app.post("/api/v2/voice-design/<uuid>/<int:index>/create_rapid_voice")
        def promote(uuid: str, index: int) -> Any:
            return jsonify(success=True, voice_uuid=fake.new_id("voice-"))

        @app.post("/api/v2/speech-to-text")
        def stt() -> Any:
            body = request.get_json(force=True)
            uuid = fake.new_id("stt-")
            fake.jobs[uuid] = {"polls": 0, "file_url": body.get("url")}
            return jsonify(
                success=True,
                item={
                    "uuid": uuid,
                    "status": "pending",
                    "text": None,
                    "file_url": body.get("url"),
                },
            )

        @app.get("/api/v2/speech-to-text/<uuid>")
        def get_stt(uuid: str) -> Any:
            job, done = fake._poll(uuid)
            return jsonify(
                success=True,
                item={
                    "uuid": uuid,
                    "status": "completed" if done else "processing",
                    "text": "hello world" if done else None,
                    "file_url": job["file_url"],
                },
            )

        def start_job(kind: str, field: str) -> str:
            upload = request.files.get(field)
            if upload is None:
                abort(
                    Response(
                        '{"success": false, "message": "file is required"}',
                        400,
                        content_type="application/json",
                    )
                )
            uuid = fake.new_id(kind + "-")
            fake.jobs[uuid] = {
                "polls": 0,
                "input": upload.read(),
                "form": request.form.to_dict(),
            }
            return uuid

        def result_url(job: dict[str, Any]) -> str:
            if "file" not in job:
                job["file"] = fake.add_file(
                    wav_bytes(0.4, frequency=660), "audio/wav", "wav"
                )
            # A signed, expiring URL: a fresh query string on every poll.
            return f"{job['file']}?signature={job['polls']}"

        @app.post("/api/v2/audio_enhancements")
        def enhance() -> Any:
            uuid = start_job("enh", "audio_file")
            return jsonify(success=True, uuid=uuid, status="pending"), 202

        @app.get("/api/v2/audio_enhancements/<uuid>")
        def get_enhance(uuid: str) -> Any:
            job, done = fake._poll(uuid)
            return jsonify(
                success=True,
                uuid=uuid,
                status="completed" if done else "processing",
                enhanced_audio_url=result_url(job) if done else None,
                error_message=None,
            )

        @app.post("/api/v2/edit")
        def edit() -> Any:
            uuid = start_job("edit", "input_audio")
            form = fake.jobs[uuid]["form"]
            return jsonify(success=True, item={"uuid": uuid, **form})

        @app.get("/api/v2/edit/<uuid>")
        def get_edit(uuid: str) -> Any:
            job, done = fake._poll(uuid)
            item = {"uuid": uuid, **job["form"]}
            if done:
                item["result_audio_url"] = result_url(job)
            return jsonify(success=True, item=item)

        @app.post("/api/v2/watermark/apply")
        def watermark() -> Any:
            body = request.get_json(force=True)
            uuid = fake.new_id("wm-")
            job = fake.jobs[uuid] = {"polls": 0, "url": body.get("url")}
            wait = request.headers.get("Prefer") == "wait"
            return jsonify(
                success=True,
                item={
                    "uuid": uuid,
                    "media_type": "audio",
                    "source_media_url": body.get("url"),
                    "watermarked_media": result_url(job) if wait else None,
                    "metrics": None,
                },
            )

        @app.get("/api/v2/watermark/apply/<uuid>/result")
        def get_watermark(uuid: str) -> Any:
            job, done = fake._poll(uuid)
            return jsonify(
                success=True,
                item={
                    "uuid": uuid,
                    "media_type": "audio",
                    "source_media_url": job["url"],
                    "watermarked_media": result_url(job) if done else None,
                },
            )

        @app.post("/api/v2/watermark/detect")
        def detect() -> Any:
            uuid = fake.new_id("wmd-")
            fake.jobs[uuid] = {"polls": 0}
            return jsonify(success=True, item={"uuid": uuid, "metrics": None})

        @app.get("/api/v2/watermark/detect/<uuid>/result")
        def get_detect(uuid: str) -> Any:
            fake._poll(uuid)
            return jsonify(
                success=True, item={"uuid": uuid, "metrics": {"has_watermark": True}}
            )

        @app.post("/api/v2/projects/<p>/clips")
        def create_clip(p: str) -> Any:
            body = request.get_json(force=True)
            if not body.get("body") or not body.get("voice_uuid"):
                return jsonify(
                    success=False, message="body and voice_uuid are required"
                ), 400
            uuid = fake.new_id("clip-")
            fmt = body.get("output_format", "wav")
            url = fake.add_file(
                audio_bytes(fmt, 0.5),
                "audio/mpeg" if fmt == "mp3" else "audio/wav",
                fmt,
            )
            item = {
                "uuid": uuid,
                "title": body.get("title"),
                "body": body["body"],
                "voice_uuid": body["voice_uuid"],
                "is_archived": False,
            }
            if body.get("callback_uri"):
                fake.pending_callbacks.append(
                    (
                        body["callback_uri"],
                        {"id": uuid, "project_id": p, "url": url, "issues": []},
                    )
                )
                fake.clips[uuid] = {**item, "audio_src": url}
                return jsonify(success=True, item=item)
            fake.clips[uuid] = {**item, "audio_src": url}
            return jsonify(success=True, item=fake.clips[uuid])

        @app.post("/api/v2/projects/<p>/batch")
        def create_batch(p: str) -> Any:
            body = request.get_json(force=True)
            texts = body.get("body") or []
            uuid = fake.new_id("batch-")
            item = {
                "uuid": uuid,
                "voice_uuid": body.get("voice_uuid"),
                "total_count": len(texts),
                "completed_count": 0,
                "failed_count": 0,
            }
            if body.get("callback_uri"):
                clips = [
                    {
                        "uuid": fake.new_id("clip-"),
                        "body": text,
                        "audio_src": fake.add_file(
                            wav_bytes(0.2, frequency=500 + 50 * i), "audio/wav", "wav"
                        ),
                    }
                    for i, text in enumerate(texts)
                ]
                done = {**item, "completed_count": len(texts), "clips": clips}
                fake.pending_callbacks.append((body["callback_uri"], done))
            return jsonify(success=True, item=item)

        @app.get("/api/v2/projects/<p>/clips")
        def clips(p: str) -> Any:
            return jsonify(
                success=True, page=1, num_pages=1, items=list(fake.clips.values())
            )

        @app.get("/api/v2/projects/<p>/clips/<c>")
        def get_clip(p: str, c: str) -> Any:
            if c not in fake.clips:
                return jsonify(success=False, message="not found"), 404
            return jsonify(success=True, item=fake.clips[c])

        return app
