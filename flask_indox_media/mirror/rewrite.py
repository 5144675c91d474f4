"""The response hook: the rewritten JSON of a Resemble answer, each asset's
fields (``asset_id``, ``audio_url``, ``expires_at``, ``resemble_url``,
``mirror_status``) added next to its audio, and its mirror arranged.

Failure semantics (docs/reliability.rst): the answer always goes out (the
caller's audio is Resemble's); an asset whose mirror could not be arranged
says ``mirror_status: "unmirrored"`` with ``audio_url: null``, and a later
poll arranges it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..assets import (
    LINKED,
    MIRRORED,
    SCHEDULED,
    UNMIRRORED,
    Asset,
    dump_asset,
)
from ..exceptions import QueueError, StorageError
from ..signals import asset_detected
from . import heal
from .claims import Claimed, claim, fresh
from .detect import Found, extract, may_carry_audio
from .download import Mirror, schedule, store_inline, store_later

if TYPE_CHECKING:
    from ..state import IndoxMediaState

logger = logging.getLogger("flask_indox_media")

#: The fields every asset gains.
ADDED_FIELDS = (
    "asset_id",
    "asset_class",
    "audio_url",
    "expires_at",
    "resemble_url",
    "mirror_status",
)


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
    audio is uploaded now: the bytes are already here (in a job carrying
    them when the storage fails). Redis or storage failures never fail the
    answer: they show in each asset's ``mirror_status``.
    """
    if not may_carry_audio(body, kind):
        return None  # the common no-audio answer: never parsed
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        # Not JSON, or nested deeper than the parser recurses (a hostile
        # upstream): the original bytes go out.
        return None
    found = extract(payload, kind)
    if not found:
        return None
    now = state.catalog.clock()  # one time for every asset of the answer
    for item in found:
        asset_detected.send(
            state, kind=kind, asset_class=item.rule.asset_class, user_id=user_id
        )
    try:
        claimed: list[Claimed] | None = claim(state, found, user_id, route_id, now)
    except QueueError as exc:
        # Nothing was claimed, so a poll after Redis is back finds the asset
        # new and arranges its mirror then.
        logger.warning("indox-media: no claims (%s): answering unmirrored", exc)
        claimed = None
    if claimed is None:
        assets: list[Asset | None] = [
            fresh(state, item, user_id, now) if item.inline else None for item in found
        ]
        statuses = [UNMIRRORED] * len(found)
    else:
        assets = [c.asset for c in claimed]
        statuses = _arrange_urls(state, found, claimed)
    for i, item in enumerate(found):
        asset = assets[i]
        if item.inline and asset is not None:
            statuses[i] = _store_inline(state, asset, item, durable=claimed is not None)
        item.container.update(_fields(state, item, asset, statuses[i], now))
        if item.inline and state.settings.strip_inline_audio and statuses[i] in LINKED:
            # Unmirrored inline audio stays: it is the caller's only copy.
            del item.container[item.field]
    return json.dumps(payload).encode()


def _arrange_urls(
    state: IndoxMediaState, found: Sequence[Found], claimed: Sequence[Claimed]
) -> list[str]:
    """Each URL asset's ``mirror_status``, its job enqueued if new or lost
    (inline assets: ``""``, decided later)."""
    statuses = [""] * len(found)
    todo: list[int] = []
    seen: list[int] = []
    for i, (item, c) in enumerate(zip(found, claimed, strict=True)):
        if item.inline:
            continue
        if c.new:
            todo.append(i)
        elif c.mirrored:
            statuses[i] = MIRRORED
        else:
            seen.append(i)
    if seen:
        try:
            verdicts = heal.check(state, [claimed[i] for i in seen])
        except QueueError as exc:
            logger.warning("indox-media: mirror states unknown (%s)", exc)
            verdicts = [UNMIRRORED] * len(seen)
        for i, verdict in zip(seen, verdicts, strict=True):
            if verdict == heal.LOST:
                todo.append(i)
            else:
                statuses[i] = verdict
    mirrors: list[Mirror] = [
        (claimed[i].asset, found[i].value, claimed[i].name) for i in todo
    ]
    try:
        schedule(state, mirrors)
        arranged = SCHEDULED
    except QueueError as exc:
        # The claims exist without jobs: the next poll finds them lost.
        logger.warning("indox-media: mirrors not scheduled (%s)", exc)
        arranged = UNMIRRORED
    for i in todo:
        statuses[i] = arranged
    return statuses


def _store_inline(
    state: IndoxMediaState, asset: Asset, item: Found, *, durable: bool
) -> str:
    try:
        store_inline(state, asset, item)
        return MIRRORED
    except StorageError as exc:
        logger.warning("indox-media: inline audio not stored now (%s)", exc)
    if not durable:
        return UNMIRRORED  # Redis is down too
    try:
        return SCHEDULED if store_later(state, asset, item) else UNMIRRORED
    except QueueError as exc:
        logger.warning("indox-media: inline audio not scheduled (%s)", exc)
        return UNMIRRORED


def _fields(
    state: IndoxMediaState,
    item: Found,
    asset: Asset | None,
    status: str,
    now: datetime,
) -> dict[str, Any]:
    resemble_url = None if item.inline else item.value
    if asset is None:
        # Never claimed: no id, since no object will ever be under its key.
        return dump_asset(
            {
                "asset_class": item.rule.asset_class,
                "audio_url": None,
                "resemble_url": resemble_url,
                "mirror_status": status,
            }
        )
    fields = state.catalog.describe(
        asset, resemble_url=resemble_url, mirror_status=status, now=now
    )
    if status not in LINKED:
        # Never a link that would 404 for good.
        fields["audio_url"] = None
        fields["playback_url"] = None
    return fields
