"""The response hook: the rewritten JSON of a Resemble answer, each asset's
fields (``asset_id``, ``audio_url``, ``expires_at``, ``resemble_url``) added
next to its audio, and its mirror scheduled."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..assets import Asset
from ..signals import asset_detected
from .claims import claim
from .detect import Found, extract
from .download import schedule, store_inline

if TYPE_CHECKING:
    from ..state import IndoxMediaState

#: The fields every asset gains.
ADDED_FIELDS = ("asset_id", "asset_class", "audio_url", "expires_at", "resemble_url")


def rewrite(
    state: IndoxMediaState,
    body: bytes,
    kind: str | None,
    user_id: str,
    route_id: str | None = None,
) -> bytes | None:
    """The rewritten JSON of a response of ``kind``, or ``None`` when it carries
    no audio (the original bytes then go out untouched).

    Each asset's key is fixed now, so ``audio_url`` is presigned before the
    object exists; the mirror runs in a job (at once without Redis). Inline
    audio is uploaded now: the bytes are already here.

    :raises QueueError: Redis failed.
    :raises StorageError: inline audio could not be stored.
    """
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        # Not JSON, or nested deeper than the parser recurses (a hostile
        # upstream): the original bytes go out.
        return None
    found = extract(payload, kind)
    if not found:
        return None
    mirrors: list[tuple[Asset, str]] = []
    inline: list[tuple[Asset, Found]] = []
    for item, (asset, new) in zip(
        found, claim(state, found, user_id, route_id), strict=True
    ):
        asset_detected.send(
            state, kind=kind, asset_class=item.rule.asset_class, user_id=user_id
        )
        item.container.update(
            state.catalog.describe(
                asset, resemble_url=None if item.inline else item.value
            )
        )
        if item.inline:
            inline.append((asset, item))
        elif new:
            # Seen before: its job was enqueued then (a failure of it stays in
            # RQ's failed registry, to re-run).
            mirrors.append((asset, item.value))
    # One batch, before any inline upload, so a failing upload cannot leave
    # claimed assets without their job.
    schedule(state, mirrors)
    for asset, item in inline:
        store_inline(state, asset, item)
        if state.settings.strip_inline_audio:
            del item.container[item.field]
    return json.dumps(payload).encode()
