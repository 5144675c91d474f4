"""Callbacks of async jobs: Resemble's payload mirrored like any answer, then
forwarded to the caller's own callback URL in a job."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..exceptions import QueueError, StorageError, UpstreamError
from ..fetch import Fetcher, HostPolicy
from .rewrite import rewrite

if TYPE_CHECKING:
    from ..state import IndoxMediaState

logger = logging.getLogger("flask_indox_media")

#: The job function, enqueued by dotted path.
FORWARD_JOB = "flask_indox_media.jobs.forward_callback"


def deliver(
    state: IndoxMediaState, body: bytes, kind: str, owner: str, original: str
) -> bytes:
    """Mirror the audio of Resemble's callback ``body`` and forward the
    rewritten payload to the caller's ``original`` URL (in a job with retries;
    https and public addresses only, unless a listed ``host:port``).

    :returns: the payload forwarded.
    """
    try:
        payload = rewrite(state, body, kind, owner) or body
    except (QueueError, StorageError):
        # The caller still gets Resemble's payload, its URLs intact.
        logger.exception("indox-media: rewriting a callback failed")
        payload = body
    state.queue.enqueue(
        FORWARD_JOB,
        {"url": original, "body": payload.decode()},
        description="forward a callback",
    )
    return payload


def forward(state: IndoxMediaState, url: str, body: str) -> int:
    """POST ``body`` to the caller's callback ``url``; returns the status.

    :raises SourceRejectedError: the URL is not https on a public address.
    :raises UpstreamError: the receiver answered with an error.
    """
    fetcher = Fetcher(
        HostPolicy(state.settings.source_hosts, any_public_host=True),
        timeout=state.fetcher.timeout,
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
