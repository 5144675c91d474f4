"""Callbacks of async jobs: the gateway's signed callback URL stands in for the
caller's; when Resemble calls it, the audio is mirrored and the rewritten
payload forwarded to the caller's own URL."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import requests
from flask import request, url_for

from .exceptions import IndoxMediaError, UpstreamError
from .extension import IndoxMediaState
from .fetch import Fetcher, HostPolicy
from .gateway import state, user_id
from .hooks import rewrite
from .signing import sign, verify

logger = logging.getLogger("flask_indox_media")

_PURPOSE = "callback"


def callback_url(original: str, kind: str) -> str:
    """The gateway's own signed callback URL standing for ``original``."""
    message = json.dumps([user_id(), original, kind], separators=(",", ":"))
    body = base64.urlsafe_b64encode(message.encode()).decode().rstrip("=")
    token = f"{body}.{sign(state().settings.signing_key, _PURPOSE, message)}"
    path = url_for("indox_media_gateway.callback", token=token)
    base = state().settings.public_url or request.host_url.rstrip("/")
    return base + path


def read_token(token: str) -> tuple[str, str, str] | None:
    """``(user id, original callback URL, kind)`` of a valid token, else ``None``."""
    try:
        body, signature = token.split(".")
        message = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        user, original, kind = json.loads(message)
    except ValueError:
        return None
    if not verify(state().settings.signing_key, _PURPOSE, message, signature):
        return None
    return str(user), str(original), str(kind)


def substitute(body: dict[str, Any], kind: str) -> None:
    """Swap the caller's ``callback_uri`` for the gateway's own, in place."""
    original = body.get("callback_uri")
    if isinstance(original, str) and original:
        body["callback_uri"] = callback_url(original, kind)


def deliver(
    st: IndoxMediaState, body: bytes, kind: str, owner: str, original: str
) -> bytes:
    """Mirror the audio of Resemble's callback ``body`` and forward the
    rewritten payload to the caller's ``original`` URL (in a job with retries;
    https and public addresses only, unless a listed ``host:port``).

    :returns: the payload forwarded.
    """
    try:
        payload = rewrite(st, body, kind, owner) or body
    except Exception:
        logger.exception("indox-media: rewriting a callback failed")
        payload = body
    queue = st.mirror.queue
    if queue is None:
        try:
            forward(st, original, payload.decode())
        except (IndoxMediaError, requests.RequestException) as exc:
            logger.warning(
                "indox-media: forwarding a callback failed: %s", type(exc).__name__
            )
        return payload
    from . import jobs

    queue.enqueue(
        jobs.forward_callback,
        kwargs={"url": original, "body": payload.decode()},
        retry=st.mirror.retry_policy(),
        job_timeout=st.settings.job_timeout,
        failure_ttl=st.settings.failure_ttl,
        description="forward a callback",
    )
    return payload


def forward(st: IndoxMediaState, url: str, body: str) -> int:
    """POST ``body`` to the caller's callback ``url``; returns the status.

    :raises SourceRejectedError: the URL is not https on a public address.
    :raises UpstreamError: the receiver answered with an error.
    """
    fetcher = Fetcher(
        HostPolicy(st.settings.source_hosts, any_public_host=True),
        timeout=st.mirror.fetcher.timeout,
    )
    headers = {"Content-Type": "application/json"}
    with fetcher.open(
        url, method="POST", data=body.encode(), headers=headers
    ) as response:
        if response.status_code >= 400:
            raise UpstreamError(
                f"the callback receiver answered {response.status_code}"
            )
        return response.status_code
